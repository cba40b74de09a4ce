/**
 * A scenario is data: topology, network, workload, faults, duration and the delivery deadline. It
 * comes from a JSON file or a named scenario, and is validated field by field so a mistake is
 * reported by its path (`faults[2].node: unknown node "dc-z/frontend-1"`), never as a crash. A
 * field the format does not have is refused at every depth, with its close match, since a
 * misspelt optional field would otherwise be ignored and its default silently used.
 *
 * Durations are integer milliseconds (`...Ms`); latencies are integer microseconds (`...Us`)
 * because intra-datacenter hops are well under a millisecond. Probabilities are integers per
 * million (`...PerMillion`), so a scenario means the same thing on every machine.
 */
import {
  defaultFrontendLimits,
  defaultStoreLimits,
  type FrontendLimits,
  type StoreLimits,
} from '../core/index.ts';
import { Validator } from './field-validator.ts';

/** A latency draw: `baseUs` plus an exponential tail of mean `jitterUs`, capped at `baseUs + 20 * jitterUs`. */
export interface Latency {
  baseUs: number;
  jitterUs: number;
}

export interface LinkClass {
  latency: Latency;
  lossPerMillion: number;
  duplicatePerMillion: number;
  /** FIFO links never reorder: a message never overtakes an earlier one on the same (source, target) pair. */
  fifo: boolean;
}

export interface Network {
  /** Client links are TCP connections: ordered and lossless while the connection lives; only latency varies. */
  client: { latency: Latency };
  intraDc: LinkClass;
  crossDc: LinkClass;
}

export interface TopicLoad {
  name: string;
  viewers: number;
  /** Publishes per second on this topic, spread evenly over the datacenters as origins. */
  publishesPerSecond: number;
  /**
   * With `quietMs` > 0 the topic publishes in bursts: `burstMs` of publishing, then `quietMs` of
   * silence, from `publishFromMs` on (a topic quiet for longer than a lease). 0: steady.
   */
  burstMs: number;
  quietMs: number;
}

export interface Workload {
  topics: TopicLoad[];
  /** Viewers connect uniformly at random over `[0, joinOverMs)`. */
  joinOverMs: number;
  /** Publishing starts at this time, so viewers are in place first. */
  publishFromMs: number;
  /** Each viewer leaves its topic at this rate and rejoins after `rejoinAfterMs`. 0 disables churn. */
  churnPerViewerPerMinute: number;
  rejoinAfterMs: number;
  /** Each viewer disconnects for good at this rate (per minute); 0: viewers stay. */
  leavePerViewerPerMinute: number;
  /**
   * Each viewer drops its connection at this rate (per minute) and reconnects after the backoff,
   * to another frontend of its datacenter, resuming from the last event it received. 0: never.
   */
  reconnectPerViewerPerMinute: number;
  /** A viewer whose connection drops reconnects to a frontend of its datacenter after a jittered backoff. */
  reconnectBackoffMs: { min: number; max: number };
  payloadBytes: number;
}

export type Fault =
  | { kind: 'kill'; atMs: number; node: string; restartAfterMs?: number }
  | { kind: 'partition'; atMs: number; between: [string, string]; oneWay?: boolean; repairAfterMs: number }
  | { kind: 'isolate'; atMs: number; node: string; releaseAfterMs: number }
  | { kind: 'jitter-storm'; atMs: number; durationMs: number; extraLatency: Latency; dc?: string }
  | { kind: 'loss-burst'; atMs: number; durationMs: number; lossPerMillion: number; dc?: string };

export type FaultKind = Fault['kind'];
export const faultKinds: readonly FaultKind[] = [
  'kill',
  'partition',
  'isolate',
  'jitter-storm',
  'loss-burst',
];

/** Faults drawn at random from the fault stream, per simulated minute. */
export interface RandomFaults {
  killsPerMinute: number;
  partitionsPerMinute: number;
  isolationsPerMinute: number;
  jitterStormsPerMinute: number;
  lossBurstsPerMinute: number;
  /** How long a drawn fault lasts before restart/repair/release. */
  durationMs: { min: number; max: number };
}

/** Role settings the scenario may tune; defaults are the production defaults scaled for simulation. */
export interface RoleSettings {
  leaseMs: number;
  renewEveryMs: number;
  leaseRequestTimeoutMs: number;
  leaseAttemptsMax: number;
  storeRequestTimeoutMs: number;
  forwardTimeoutMs: number;
  forwardAttemptsMax: number;
  suspectMs: number;
  frontendLimits: Partial<FrontendLimits>;
  /** The store's named limits (topics, frontends per topic, lease and tombstone lengths...). */
  storeLimits: Partial<StoreLimits>;
}

export interface Scenario {
  name: string;
  description: string;
  durationMs: number;
  /** An expected delivery that has not arrived this long after its publish is lost. */
  deliveryDeadlineMs: number;
  /** A subscription counts for an event only if it began at least this long before the publish (time to register). */
  subscribeGraceMs: number;
  topology: { datacenters: { name: string; frontends: number; dispatchers: number }[] };
  network: Network;
  workload: Workload;
  roles: RoleSettings;
  faults: Fault[];
  randomFaults: RandomFaults | null;
}

/** Node ids are `<dc>/frontend-<n>`, `<dc>/dispatcher-<n>` and `<dc>/store`, numbered from 1. */
export function nodeIds(scenario: Pick<Scenario, 'topology'>): {
  id: string;
  dc: string;
  role: 'frontend' | 'dispatcher' | 'store';
}[] {
  const nodes: { id: string; dc: string; role: 'frontend' | 'dispatcher' | 'store' }[] = [];
  for (const dc of scenario.topology.datacenters) {
    for (let i = 1; i <= dc.frontends; i++)
      nodes.push({ id: `${dc.name}/frontend-${i}`, dc: dc.name, role: 'frontend' });
    for (let i = 1; i <= dc.dispatchers; i++) {
      nodes.push({ id: `${dc.name}/dispatcher-${i}`, dc: dc.name, role: 'dispatcher' });
    }
    nodes.push({ id: `${dc.name}/store`, dc: dc.name, role: 'store' });
  }
  return nodes;
}

/** A scenario file or value that breaks the rules; `issues` names each bad field by its path. */
export class ScenarioError extends Error {
  override name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly issues: string[],
  ) {
    super(`${source}: invalid scenario:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
  }
}

export const defaultRoles: RoleSettings = {
  leaseMs: 5_000,
  renewEveryMs: 1_500,
  leaseRequestTimeoutMs: 200,
  leaseAttemptsMax: 3,
  storeRequestTimeoutMs: 100,
  forwardTimeoutMs: 300,
  forwardAttemptsMax: 3,
  suspectMs: 5_000,
  frontendLimits: {},
  storeLimits: {},
};

const defaultLink = (baseUs: number, jitterUs: number): LinkClass => ({
  latency: { baseUs, jitterUs },
  lossPerMillion: 0,
  duplicatePerMillion: 0,
  fifo: false,
});

export const defaultNetwork: Network = {
  client: { latency: { baseUs: 5_000, jitterUs: 2_000 } },
  intraDc: defaultLink(200, 100),
  crossDc: defaultLink(30_000, 5_000),
};

/**
 * Check `value` (parsed JSON) against the scenario rules and fill defaults. Every problem is
 * collected, so one run of the command shows all of them.
 */
export function parseScenario(value: unknown, source: string): Scenario {
  const issues: string[] = [];
  const v = new Validator(issues);
  const root = v.object(value, '', [
    'name',
    'description',
    'durationMs',
    'deliveryDeadlineMs',
    'subscribeGraceMs',
    'topology',
    'network',
    'workload',
    'roles',
    'faults',
    'randomFaults',
  ]);
  if (root === null) throw new ScenarioError(source, issues);

  const name = v.string(root.name, 'name', /^[A-Za-z0-9_.-]+$/) ?? 'invalid';
  const durationMs = v.int(root.durationMs, 'durationMs', 1, 24 * 3_600_000) ?? 1;
  const deliveryDeadlineMs = v.int(root.deliveryDeadlineMs ?? 1_000, 'deliveryDeadlineMs', 1, 3_600_000) ?? 1;
  const subscribeGraceMs = v.int(root.subscribeGraceMs ?? 1_000, 'subscribeGraceMs', 0, 3_600_000) ?? 0;
  const description = v.string(root.description ?? '', 'description') ?? '';

  const topologyValue = v.object(root.topology, 'topology', ['datacenters']);
  const dcsValue =
    topologyValue === null ? null : v.array(topologyValue.datacenters, 'topology.datacenters', 1, 16);
  const datacenters = (dcsValue ?? []).map((dc, i) => {
    const path = `topology.datacenters[${i}]`;
    const o = v.object(dc, path, ['name', 'frontends', 'dispatchers']) ?? {};
    return {
      name: v.string(o.name, `${path}.name`, /^[a-z0-9-]+$/) ?? `dc-${i}`,
      frontends: v.int(o.frontends, `${path}.frontends`, 1, 256) ?? 1,
      dispatchers: v.int(o.dispatchers, `${path}.dispatchers`, 1, 256) ?? 1,
    };
  });
  const dcNames = new Set(datacenters.map((dc) => dc.name));
  if (dcNames.size !== datacenters.length)
    issues.push('topology.datacenters: datacenter names must be unique');
  const topology = { datacenters };
  const nodes = new Set(nodeIds({ topology }).map((node) => node.id));

  const networkValue = v.object(root.network ?? {}, 'network', ['client', 'intraDc', 'crossDc']) ?? {};
  const latency = (x: unknown, path: string, fallback: Latency): Latency => {
    if (x === undefined) return fallback;
    const o = v.object(x, path, ['baseUs', 'jitterUs']) ?? {};
    return {
      baseUs: v.int(o.baseUs, `${path}.baseUs`, 0, 60_000_000) ?? 0,
      jitterUs: v.int(o.jitterUs ?? 0, `${path}.jitterUs`, 0, 60_000_000) ?? 0,
    };
  };
  const link = (x: unknown, path: string, fallback: LinkClass): LinkClass => {
    if (x === undefined) return fallback;
    const o = v.object(x, path, ['latency', 'lossPerMillion', 'duplicatePerMillion', 'fifo']) ?? {};
    return {
      latency: latency(o.latency, `${path}.latency`, fallback.latency),
      lossPerMillion: v.int(o.lossPerMillion ?? 0, `${path}.lossPerMillion`, 0, 1_000_000) ?? 0,
      duplicatePerMillion:
        v.int(o.duplicatePerMillion ?? 0, `${path}.duplicatePerMillion`, 0, 1_000_000) ?? 0,
      fifo: v.boolean(o.fifo ?? false, `${path}.fifo`) ?? false,
    };
  };
  const clientValue =
    networkValue.client === undefined
      ? {}
      : (v.object(networkValue.client, 'network.client', ['latency']) ?? {});
  const network: Network = {
    client: {
      latency: latency(clientValue.latency, 'network.client.latency', defaultNetwork.client.latency),
    },
    intraDc: link(networkValue.intraDc, 'network.intraDc', defaultNetwork.intraDc),
    crossDc: link(networkValue.crossDc, 'network.crossDc', defaultNetwork.crossDc),
  };

  const workloadValue =
    v.object(root.workload, 'workload', [
      'topics',
      'joinOverMs',
      'publishFromMs',
      'churnPerViewerPerMinute',
      'rejoinAfterMs',
      'leavePerViewerPerMinute',
      'reconnectPerViewerPerMinute',
      'reconnectBackoffMs',
      'payloadBytes',
    ]) ?? {};
  const topics = (v.array(workloadValue.topics, 'workload.topics', 1, 1_000) ?? []).map((t, i) => {
    const path = `workload.topics[${i}]`;
    const o = v.object(t, path, ['name', 'viewers', 'publishesPerSecond', 'burstMs', 'quietMs']) ?? {};
    const load = {
      name: v.string(o.name, `${path}.name`, /^[A-Za-z0-9_.:\-/]{1,128}$/) ?? `t${i}`,
      viewers: v.int(o.viewers, `${path}.viewers`, 0, 10_000_000) ?? 0,
      publishesPerSecond: v.number(o.publishesPerSecond, `${path}.publishesPerSecond`, 0, 1_000_000) ?? 0,
      burstMs: v.int(o.burstMs ?? 0, `${path}.burstMs`, 0, 24 * 3_600_000) ?? 0,
      quietMs: v.int(o.quietMs ?? 0, `${path}.quietMs`, 0, 24 * 3_600_000) ?? 0,
    };
    if (load.quietMs > 0 && load.burstMs === 0)
      issues.push(`${path}.burstMs: a topic with quietMs publishes in bursts: give burstMs too`);
    return load;
  });
  if (new Set(topics.map((t) => t.name)).size !== topics.length)
    issues.push('workload.topics: topic names must be unique');
  const backoff =
    v.object(workloadValue.reconnectBackoffMs ?? { min: 100, max: 1_000 }, 'workload.reconnectBackoffMs', [
      'min',
      'max',
    ]) ?? {};
  const workload: Workload = {
    topics,
    joinOverMs: v.int(workloadValue.joinOverMs ?? 1_000, 'workload.joinOverMs', 1, 3_600_000) ?? 1,
    publishFromMs:
      v.int(workloadValue.publishFromMs ?? 2_000, 'workload.publishFromMs', 0, 24 * 3_600_000) ?? 0,
    churnPerViewerPerMinute:
      v.number(workloadValue.churnPerViewerPerMinute ?? 0, 'workload.churnPerViewerPerMinute', 0, 600) ?? 0,
    rejoinAfterMs: v.int(workloadValue.rejoinAfterMs ?? 2_000, 'workload.rejoinAfterMs', 0, 3_600_000) ?? 0,
    leavePerViewerPerMinute:
      v.number(workloadValue.leavePerViewerPerMinute ?? 0, 'workload.leavePerViewerPerMinute', 0, 600) ?? 0,
    reconnectPerViewerPerMinute:
      v.number(
        workloadValue.reconnectPerViewerPerMinute ?? 0,
        'workload.reconnectPerViewerPerMinute',
        0,
        600,
      ) ?? 0,
    reconnectBackoffMs: {
      min: v.int(backoff.min, 'workload.reconnectBackoffMs.min', 0, 3_600_000) ?? 0,
      max: v.int(backoff.max, 'workload.reconnectBackoffMs.max', 0, 3_600_000) ?? 0,
    },
    payloadBytes: v.int(workloadValue.payloadBytes ?? 64, 'workload.payloadBytes', 8, 1_000_000) ?? 8,
  };
  if (workload.reconnectBackoffMs.min > workload.reconnectBackoffMs.max) {
    issues.push('workload.reconnectBackoffMs: min must not exceed max');
  }

  const rolesValue = v.object(root.roles ?? {}, 'roles', Object.keys(defaultRoles)) ?? {};
  const roles: RoleSettings = { ...defaultRoles };
  for (const key of Object.keys(rolesValue)) {
    if (key === 'frontendLimits') {
      roles.frontendLimits = frontendLimits(v, rolesValue.frontendLimits, 'roles.frontendLimits');
    } else if (key === 'storeLimits') {
      roles.storeLimits = storeLimits(v, rolesValue.storeLimits, 'roles.storeLimits');
    } else if (Object.hasOwn(defaultRoles, key)) {
      (roles as unknown as Record<string, number>)[key] =
        v.int(rolesValue[key], `roles.${key}`, 1, 3_600_000) ?? 1;
    }
  }
  if (roles.renewEveryMs >= roles.leaseMs)
    issues.push('roles.renewEveryMs: must be shorter than roles.leaseMs');

  const node = (x: unknown, path: string): string => {
    const id = v.string(x, path) ?? '';
    if (id !== '' && !nodes.has(id))
      issues.push(`${path}: unknown node "${id}" (nodes are like ${[...nodes][0] ?? 'dc/frontend-1'})`);
    return id;
  };
  const dc = (x: unknown, path: string): string => {
    const name = v.string(x, path) ?? '';
    if (name !== '' && !dcNames.has(name)) issues.push(`${path}: unknown datacenter "${name}"`);
    return name;
  };
  const faults = (v.array(root.faults ?? [], 'faults', 0, 10_000) ?? []).map((f, i): Fault => {
    const path = `faults[${i}]`;
    const o = v.object(f, path, null) ?? {};
    const kind = faultKinds.find((k) => k === o.kind);
    if (kind !== undefined) v.fields(o, path, faultFields[kind]);
    const atMs = v.int(o.atMs, `${path}.atMs`, 0, durationMs) ?? 0;
    const optionalDc = o.dc === undefined ? {} : { dc: dc(o.dc, `${path}.dc`) };
    switch (o.kind) {
      case 'kill': {
        const restart =
          o.restartAfterMs === undefined
            ? {}
            : { restartAfterMs: v.int(o.restartAfterMs, `${path}.restartAfterMs`, 1, 24 * 3_600_000) ?? 1 };
        return { kind: 'kill', atMs, node: node(o.node, `${path}.node`), ...restart };
      }
      case 'partition': {
        const between = v.array(o.between, `${path}.between`, 2, 2) ?? ['', ''];
        const pair: [string, string] = [
          dc(between[0], `${path}.between[0]`),
          dc(between[1], `${path}.between[1]`),
        ];
        if (pair[0] === pair[1] && pair[0] !== '')
          issues.push(`${path}.between: a datacenter cannot be partitioned from itself`);
        return {
          kind: 'partition',
          atMs,
          between: pair,
          oneWay: v.boolean(o.oneWay ?? false, `${path}.oneWay`) ?? false,
          repairAfterMs: v.int(o.repairAfterMs, `${path}.repairAfterMs`, 1, 24 * 3_600_000) ?? 1,
        };
      }
      case 'isolate':
        return {
          kind: 'isolate',
          atMs,
          node: node(o.node, `${path}.node`),
          releaseAfterMs: v.int(o.releaseAfterMs, `${path}.releaseAfterMs`, 1, 24 * 3_600_000) ?? 1,
        };
      case 'jitter-storm':
        return {
          kind: 'jitter-storm',
          atMs,
          durationMs: v.int(o.durationMs, `${path}.durationMs`, 1, 24 * 3_600_000) ?? 1,
          extraLatency: latency(o.extraLatency, `${path}.extraLatency`, { baseUs: 0, jitterUs: 0 }),
          ...optionalDc,
        };
      case 'loss-burst':
        return {
          kind: 'loss-burst',
          atMs,
          durationMs: v.int(o.durationMs, `${path}.durationMs`, 1, 24 * 3_600_000) ?? 1,
          lossPerMillion: v.int(o.lossPerMillion, `${path}.lossPerMillion`, 0, 1_000_000) ?? 0,
          ...optionalDc,
        };
      default:
        issues.push(`${path}.kind: must be one of ${faultKinds.join(', ')} (got ${JSON.stringify(o.kind)})`);
        return { kind: 'kill', atMs, node: '' };
    }
  });

  let randomFaults: RandomFaults | null = null;
  if (root.randomFaults !== undefined && root.randomFaults !== null) {
    const o =
      v.object(root.randomFaults, 'randomFaults', [
        'killsPerMinute',
        'partitionsPerMinute',
        'isolationsPerMinute',
        'jitterStormsPerMinute',
        'lossBurstsPerMinute',
        'durationMs',
      ]) ?? {};
    const rate = (key: string): number => v.number(o[key] ?? 0, `randomFaults.${key}`, 0, 1_000) ?? 0;
    const d =
      v.object(o.durationMs ?? { min: 500, max: 5_000 }, 'randomFaults.durationMs', ['min', 'max']) ?? {};
    randomFaults = {
      killsPerMinute: rate('killsPerMinute'),
      partitionsPerMinute: rate('partitionsPerMinute'),
      isolationsPerMinute: rate('isolationsPerMinute'),
      jitterStormsPerMinute: rate('jitterStormsPerMinute'),
      lossBurstsPerMinute: rate('lossBurstsPerMinute'),
      durationMs: {
        min: v.int(d.min, 'randomFaults.durationMs.min', 1, 3_600_000) ?? 1,
        max: v.int(d.max, 'randomFaults.durationMs.max', 1, 3_600_000) ?? 1,
      },
    };
  }

  if (issues.length > 0) throw new ScenarioError(source, issues);
  return {
    name,
    description,
    durationMs,
    deliveryDeadlineMs,
    subscribeGraceMs,
    topology,
    network,
    workload,
    roles,
    faults,
    randomFaults,
  };
}

/** The fields each kind of fault takes. */
const faultFields: Record<FaultKind, readonly string[]> = {
  kill: ['kind', 'atMs', 'node', 'restartAfterMs'],
  partition: ['kind', 'atMs', 'between', 'oneWay', 'repairAfterMs'],
  isolate: ['kind', 'atMs', 'node', 'releaseAfterMs'],
  'jitter-storm': ['kind', 'atMs', 'durationMs', 'extraLatency', 'dc'],
  'loss-burst': ['kind', 'atMs', 'durationMs', 'lossPerMillion', 'dc'],
};

/** `roles.storeLimits`: any of the store's named limits; counts at least 1, durations at least 0. */
function storeLimits(v: Validator, x: unknown, path: string): Partial<StoreLimits> {
  const names = Object.keys(defaultStoreLimits) as (keyof StoreLimits)[];
  const o = v.object(x, path, names) ?? {};
  const limits: Partial<StoreLimits> = {};
  const counts: readonly string[] = ['topicsMax', 'frontendsPerTopicMax', 'leaseMsMax', 'sweepEveryMs'];
  for (const name of names) {
    if (o[name] === undefined) continue;
    limits[name] = v.int(o[name], `${path}.${name}`, counts.includes(name) ? 1 : 0, 1_000_000_000) ?? 1;
  }
  return limits;
}

/** `roles.frontendLimits`: any of the frontend's named limits, each a positive integer. */
function frontendLimits(v: Validator, x: unknown, path: string): Partial<FrontendLimits> {
  const names = Object.keys(defaultFrontendLimits) as (keyof FrontendLimits)[];
  const o = v.object(x, path, names) ?? {};
  const limits: Partial<FrontendLimits> = {};
  for (const name of names)
    if (o[name] !== undefined) limits[name] = v.int(o[name], `${path}.${name}`, 1, 1_000_000_000) ?? 1;
  return limits;
}
