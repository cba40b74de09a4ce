/**
 * How `stadium serve`'s settings become the options each core role is created with. Two values come
 * from the process itself: the dispatcher's event-id prefix is unique per incarnation (datacenter,
 * port and a random boot id), and the frontend's lease generations start from the wall clock at
 * boot, so that they grow across restarts.
 */
import { randomBytes } from 'node:crypto';
import type { DispatcherOptions, FrontendOptions, NodeId } from '../core/index.ts';
import type { ServeConfig } from './config.ts';

export function dispatcherOptions(config: ServeConfig, nodeId: NodeId): DispatcherOptions {
  return {
    nodeId,
    dc: config.dc,
    mode: config.mode,
    peers: config.peers,
    // Unique per incarnation: datacenter, node and a random boot id.
    idPrefix: `${config.dc}.${new URL(nodeId).port || '80'}.${randomBytes(4).toString('hex')}-`,
    storeRequestTimeoutMs: config.storeTimeoutMs,
    storeRebuildWindowMs: storeRebuildWindowMs(config),
    // A peer datacenter silent for three intervals is stale (the core's default).
    occupancyEveryMs: config.occupancyEveryMs,
    limits: { payloadBytesMax: config.payloadLimitBytes },
  };
}

export function frontendOptions(config: ServeConfig, nodeId: NodeId): FrontendOptions {
  return {
    nodeId,
    dc: config.dc,
    mode: config.mode,
    dispatchers: config.dispatchers.length > 0 ? config.dispatchers : [nodeId],
    leaseMs: config.leaseMs,
    leaseRequestTimeoutMs: config.storeTimeoutMs + 500,
    occupancyEveryMs: config.occupancyEveryMs,
    // Generations grow across restarts: microseconds of the wall clock at boot.
    generationStart: Date.now() * 1000,
    limits: {
      connectionsMax: config.connectionsMax,
      topicsPerConnectionMax: config.topicsPerConnectionMax,
      payloadBytesMax: config.payloadLimitBytes,
    },
  };
}

/**
 * How long after its store's epoch began a dispatcher warns that frontends may still be
 * registering: one renewal period and a lease request's timeout. Role all with its own memory store
 * and no internal token given has no frontend but its own, which registers by a direct call.
 */
function storeRebuildWindowMs(config: ServeConfig): number {
  if (config.role === 'all' && config.store === 'memory' && config.internalToken === null) return 0;
  return Math.floor(config.leaseMs / 3) + config.storeTimeoutMs + 500;
}
