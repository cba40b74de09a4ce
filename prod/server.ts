/**
 * The production host: one process, one uWebSockets.js app, hosting a frontend, a dispatcher, or
 * both around the pure core. This file puts the parts together; each is a thin adapter of its own,
 * as Hono keeps one small file per concern of each runtime:
 *
 * - prod/host-loop.ts: the core loop. It feeds inputs, performs effects on the parts below, arms
 *   each role's deadline, and decides nothing.
 * - prod/peer-transport.ts: node-to-node messages, `POST /internal/message` out and in, with the
 *   deployment's internal token.
 * - prod/store-calls.ts: the dispatcher's store (memory or Redis), asked per `store-request`.
 * - prod/clients.ts: SSE and WebSocket connections as transports (writes, batching, slow clients).
 * - One file per route family: prod/route-publish.ts (publishes and batches, answered by the
 *   `publish-reply` effect), prod/route-occupancy.ts (a topic's viewer count, answered by the
 *   `occupancy-reply` effect), prod/route-stream.ts (SSE), prod/route-websocket.ts (WebSocket, its
 *   token check and refresh), prod/route-operations.ts (health, metrics, the demo page, `405`/`404`);
 *   what they share is prod/http-routes.ts, and the frontend's are fed through prod/client-inputs.ts
 *   and bounded by prod/token-expiry.ts.
 * - prod/shutdown.ts: the graceful stop.
 *
 * Data flows one way round: a request or a message becomes an input to the host loop; the loop's
 * effects go out through the parts; their answers come back as inputs.
 */
import { App, us_socket_local_port } from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { assert, coreRoles } from '../core/index.ts';
import type { DispatcherOptions, FrontendOptions, NodeId, Topic } from '../core/index.ts';
import { jwtSecretKey } from './auth.ts';
import { ClientInputs } from './client-inputs.ts';
import { Clients } from './clients.ts';
import type { ServeConfig } from './config.ts';
import { HostLoop } from './host-loop.ts';
import type { ServerRoles, Work } from './host-loop.ts';
import { HttpRoutes } from './http-routes.ts';
import { InFlight } from './in-flight.ts';
import { createLogger } from './log.ts';
import type { Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { PeerTransport } from './peer-transport.ts';
import { dispatcherOptions, frontendOptions } from './role-options.ts';
import { clientRoute } from './route-client.ts';
import { fallbackRoute, operationsRoutes } from './route-operations.ts';
import type { Health } from './route-operations.ts';
import { OccupancyQueries } from './route-occupancy.ts';
import { Publishes } from './route-publish.ts';
import { streamRoute } from './route-stream.ts';
import { WebSocketRoute } from './route-websocket.ts';
import { shutdown } from './shutdown.ts';
import type { Lifecycle } from './shutdown.ts';
import type { Recorder } from './recorder.ts';
import { redactUrl, StoreCalls } from './store-calls.ts';
import { TokenExpiry } from './token-expiry.ts';

export interface RunningServer {
  /** This node's id: the base URL other nodes reach it at. */
  readonly nodeId: NodeId;
  /** Where this process listens, e.g. `http://127.0.0.1:7000`. */
  readonly url: string;
  readonly port: number;
  health(): Health;
  /** Graceful shutdown; resolves when everything is closed. */
  close(): Promise<void>;
}

export interface ServerHooks {
  roles?: ServerRoles;
  /**
   * A core role threw (a failed assertion: our bug). By default the process exits with code 70
   * (EX_SOFTWARE) for its supervisor to restart; tests may catch it instead.
   */
  onCoreFailure?: (error: unknown) => void;
  /** Told what the server does as it does it (chaos runs write it as the simulator's facts). */
  recorder?: Recorder;
  /** Role settings over the ones the config gives (chaos runs use a scenario's). */
  frontendOptions?: Partial<FrontendOptions>;
  dispatcherOptions?: Partial<DispatcherOptions>;
}

/** Exit code of a process stopped by a failed core assertion. */
export const coreFailureExitCode = 70;

const portsToTry = 100;
/** `LIBUS_LISTEN_EXCLUSIVE_PORT`: exported at run time, but only as a type in the typings. */
const listenExclusivePort = 1;
const noTopics: ReadonlySet<Topic> = new Set();

export async function startServer(
  config: ServeConfig,
  logger?: Logger,
  hooks: ServerHooks = {},
): Promise<RunningServer> {
  const app = App();
  const hasFrontend = config.role !== 'dispatcher';
  const hasDispatcher = config.role !== 'frontend';
  const { listenSocket, port } = await listen(app, config);
  const nodeId = config.publicUrl ?? `http://${config.host}:${port}`;
  const url = `http://${config.host}:${port}`;
  const log = logger ?? createLogger(config.logLevel, { role: config.role, dc: config.dc, node: nodeId });
  const onCoreFailure = hooks.onCoreFailure ?? ((): never => process.exit(coreFailureExitCode));
  const roles = hooks.roles ?? coreRoles;
  const recorder = hooks.recorder ?? null;
  const startedAtMs = Date.now();
  const lifecycle: Lifecycle = { shuttingDown: false };
  const inFlight = new InFlight();

  // The parts feed the host loop and the loop performs effects on them: `feed` reaches the loop
  // made last, and nothing feeds before startServer returns.
  const feed = (work: Work): void => loop.feed(work);
  const metrics = createMetrics(
    {
      connections: () => clients.counts(),
      subscriptions: () => {
        let pairs = 0;
        for (const topics of loop.frontend?.connections.values() ?? []) pairs += topics.size;
        return pairs;
      },
      topics: () => loop.frontend?.topics.size ?? 0,
      storeUp: () => (store === null ? null : store.status() === 'up'),
      coreCounters: () => [
        ...(loop.frontend ? [{ role: 'frontend', counters: loop.frontend.counters }] : []),
        ...(loop.dispatcher ? [{ role: 'dispatcher', counters: loop.dispatcher.counters }] : []),
      ],
      topicOccupancy: function* () {
        for (const { latest } of loop.frontend?.occupancy.values() ?? []) if (latest !== null) yield latest;
      },
    },
    { dc: config.dc, role: config.role },
  );
  const inputs = new ClientInputs(nodeId, feed, config.mode);
  const clients = new Clients(
    config,
    metrics,
    log,
    (id) => {
      expiry.forget(id);
      if (loop.frontend?.connections.has(id)) inputs.act(id, { type: 'disconnect' });
    },
    {
      publish: (topic, frame) => app.publish(topic, frame, false),
      subscribers: (topic) => app.numSubscribers(topic),
    },
    recorder,
  );
  const expiry = new TokenExpiry(clients, metrics);
  const store = hasDispatcher ? new StoreCalls(config, metrics, log, inFlight, feed, recorder) : null;
  const transport = new PeerTransport(
    nodeId,
    config.internalToken,
    metrics,
    log,
    inFlight,
    (source, message, tag) => {
      recorder?.received(source, message, tag);
      return loop.receive(source, message);
    },
    recorder,
  );
  const http = new HttpRoutes(app, config, metrics, lifecycle);
  const publishes = hasDispatcher ? new Publishes(http, feed) : null;
  const occupancyQueries = hasDispatcher ? new OccupancyQueries(http, feed) : null;
  const loop = new HostLoop(
    roles,
    hasFrontend
      ? roles.frontend.create({ ...frontendOptions(config, nodeId), ...hooks.frontendOptions })
      : null,
    hasDispatcher
      ? roles.dispatcher.create({ ...dispatcherOptions(config, nodeId), ...hooks.dispatcherOptions })
      : null,
    {
      send: (target, message) => transport.send(target, message),
      clients,
      storeRequest: (requestId, request) => {
        assert(store !== null, 'a store request on a node without a store');
        store.request(requestId, request);
      },
      answerPublish: (publishId, result) => publishes?.answer(publishId, result),
      answerOccupancy: (queryId, result) => occupancyQueries?.answer(queryId, result),
    },
    metrics,
    log,
    lifecycle,
    onCoreFailure,
    recorder,
  );
  const heartbeat = hasFrontend ? setInterval(() => clients.heartbeat(), config.heartbeatMs) : null;

  const health = (): Health => ({
    status: lifecycle.shuttingDown ? 'shutting-down' : store?.status() === 'down' ? 'degraded' : 'ok',
    role: config.role,
    dc: config.dc,
    node: nodeId,
    connections: clients.size,
    topics: loop.frontend?.topics.size ?? 0,
    store: store === null ? 'none' : store.status(),
    uptimeMs: Date.now() - startedAtMs,
  });

  operationsRoutes(http, metrics, health);
  transport.route(http);
  publishes?.route();
  occupancyQueries?.route();
  if (hasFrontend) {
    const viewers = { clients, inputs, expiry, jwtKey: jwtSecretKey(config.jwtSecret) };
    streamRoute(http, viewers);
    new WebSocketRoute(
      http,
      viewers,
      metrics,
      (id) => loop.frontend?.connections.get(id) ?? noTopics,
    ).route();
  }
  clientRoute(http);
  fallbackRoute(http);

  log.info('listening', {
    url,
    store: hasDispatcher ? redactUrl(config.store) : 'none',
    dispatchers: hasFrontend ? (loop.frontend?.config.dispatchers ?? []) : undefined,
    peers: hasDispatcher ? config.peers : undefined,
  });
  let closing: Promise<void> | null = null;
  return {
    nodeId,
    url,
    port,
    health,
    close: () =>
      (closing ??= shutdown({
        app,
        listenSocket,
        lifecycle,
        log,
        loop,
        clients,
        expiry,
        heartbeat,
        publishes,
        occupancyQueries,
        store,
        inFlight,
        graceMs: config.shutdownGraceMs,
      })),
  };
}

async function listen(
  app: TemplatedApp,
  config: ServeConfig,
): Promise<{ listenSocket: us_listen_socket; port: number }> {
  const attempts = config.portExplicit || config.port === 0 ? 1 : portsToTry;
  for (let i = 0; i < attempts; i++) {
    // Exclusive: without it uWebSockets.js sets SO_REUSEPORT and two servers would share a port.
    // The (host, port, options, cb) form exists at run time but not in the typings.
    const listenExclusive = app.listen.bind(app) as unknown as (
      host: string,
      port: number,
      options: number,
      cb: (socket: us_listen_socket | false) => void,
    ) => void;
    const socket = await new Promise<us_listen_socket | false>((resolve) =>
      listenExclusive(config.host, config.port + i, listenExclusivePort, resolve),
    );
    if (socket !== false) return { listenSocket: socket, port: us_socket_local_port(socket) };
  }
  const range = attempts === 1 ? `port ${config.port}` : `ports ${config.port}-${config.port + attempts - 1}`;
  throw new ListenError(`cannot listen on ${config.host}, ${range} (in use, or the address is not local)`);
}

/** Listening failed: bad input from the operator, not a bug. */
export class ListenError extends Error {
  override name = 'ListenError';
}
