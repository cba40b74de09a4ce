/**
 * The production host: one process, one uWebSockets.js app, hosting a frontend, a dispatcher, or
 * both around the pure core. It maps effects to IO and nothing else.
 *
 * Theory of operation
 * - State and time: the host keeps each role's state, calls `handle(state, input, Date.now())` and
 *   performs every returned effect before the next input. Inputs queue up while effects are being
 *   performed (a local send, a closed socket), so `handle` is never re-entered. After each batch
 *   one timer per role is armed for `deadline(state)`.
 * - Node ids are base URLs. A `send` to another node is `POST <target>/internal/message` with
 *   `{source, message}` over keep-alive; a failed or slow POST is dropped, because the core times
 *   out by itself. Every such request carries the deployment's internal token, and one without it
 *   is refused before its body is read: node messages can deliver, subscribe and unsubscribe. A send to this very node is a direct `handle` call, and a send to a publisher
 *   (`http-publish:<n>`) answers that publisher's HTTP request.
 * - Frontend: SSE (`GET /v1/stream`) and WebSocket (`/v1/ws`) connections get ids `<node>#<n>`;
 *   what clients do becomes `client` inputs, and `deliver`, `notice` and `close` effects are
 *   written to them by `Clients` (prod/clients.ts), which also keeps slow readers from growing
 *   memory.
 * - Dispatcher: `POST /v1/publish` becomes a `publish` message from a made-up source; a
 *   `store-request` goes to the store port and its answer comes back as a `store-reply`.
 * - `drop` and `lease` effects become metrics and debug logs.
 * - Shutdown: stop listening, disconnect every client through the core (so its topics are
 *   unregistered), tell SSE clients when to retry, wait briefly for in-flight sends, close the store.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, us_listen_socket_close, us_socket_local_port } from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { assert, dispatcherRole, frontendRole, unreachable } from '../core/index.ts';
import type {
  ClientAction,
  ConnectionId,
  DispatcherInput,
  DispatcherOptions,
  DispatcherState,
  Effect,
  FrontendInput,
  FrontendOptions,
  FrontendState,
  Message,
  MessageType,
  NodeId,
  PublishId,
  PublishResult,
  PublishWarning,
  Role,
  StoreRequest,
  Topic,
} from '../core/index.ts';
import {
  checkBearerToken,
  checkPublishToken,
  grantError,
  jwtSecretKey,
  openGrant,
  subscribeGrant,
  subscribeTokenMissing,
} from './auth.ts';
import type { TopicGrant } from './auth.ts';
import type { ServeConfig } from './config.ts';
import { exchange, readBody, reply, replyError } from './http-reply.ts';
import type { Exchange } from './http-reply.ts';
import {
  bearerToken,
  httpError,
  isHttpError,
  parseClientMessage,
  parseInternalMessage,
  parsePublishBody,
  parseStreamQuery,
  publishErrorStatus,
} from './http-input.ts';
import type { HttpError, PublishRequest } from './http-input.ts';
import { Clients } from './clients.ts';
import { Expiries } from './expiries.ts';
import type { WsConnection, WsData } from './clients.ts';
import { createLogger } from './log.ts';
import type { Logger } from './log.ts';
import { MemoryStore } from './memory-store.ts';
import { monotonicClock } from './monotonic-clock.ts';
import { createMetrics } from './metrics.ts';
import type { Metrics } from './metrics.ts';
import { RedisStore } from './redis-store.ts';
import type { SubscriptionStorePort } from './store-port.ts';
import { wsError } from './wire.ts';

export interface Health {
  /** `degraded`: a dispatcher whose store is down (publishes fail); `/healthz` answers 503 unless `ok`. */
  status: 'ok' | 'degraded' | 'shutting-down';
  role: ServeConfig['role'];
  dc: string;
  node: NodeId;
  connections: number;
  topics: number;
  store: 'up' | 'down' | 'none';
  uptimeMs: number;
}

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

/** Messages a frontend handles; every other node-to-node message goes to a dispatcher. */
const frontendMessages: ReadonlySet<MessageType> = new Set([
  'deliver',
  'lease-reply',
  'publish-reply',
  'store-reset',
]);
const dispatcherMessages: ReadonlySet<MessageType> = new Set([
  'publish',
  'subscribe',
  'renew',
  'unsubscribe',
  'forward',
  'forward-ack',
]);
const noTopics: ReadonlySet<Topic> = new Set();
/** How long a node-to-node POST may take; the core's own timeouts are shorter and decide. */
const sendTimeoutMs = 2_000;
const portsToTry = 100;
/** Messages a WebSocket may send before the verdict on its token; past it they are refused. */
const heldMessagesMax = 64;
/** `LIBUS_LISTEN_EXCLUSIVE_PORT`: exported at run time, but only as a type in the typings. */
const listenExclusivePort = 1;

type Work = { role: 'frontend'; input: FrontendInput } | { role: 'dispatcher'; input: DispatcherInput };

/** A publish awaiting the core's answer: an HTTP request of its own, or one event of a batch. */
type PendingPublish = { ex: Exchange } | { batch: PendingBatch; index: number };

/** What a batch publish answers for each of its events, in order. */
type BatchResult =
  | { id: string; warning?: PublishWarning }
  | { status: number; code: string; error: string; retryAfterMs?: number };

interface PendingBatch {
  ex: Exchange;
  /** null until that event's answer is known. */
  results: (BatchResult | null)[];
  left: number;
}

const demoPagePath = join(import.meta.dirname, 'static', 'demo.html');

/** The role implementations a server runs: the core's, or (tests, chaos runs) a planted-bug copy. */
export interface ServerRoles {
  frontend: Role<FrontendState, FrontendInput, FrontendOptions>;
  dispatcher: Role<DispatcherState, DispatcherInput, DispatcherOptions>;
}

export interface ServerHooks {
  roles?: ServerRoles;
  /**
   * A core role threw (a failed assertion: our bug). By default the process exits with code 70
   * (EX_SOFTWARE) for its supervisor to restart; tests may catch it instead.
   */
  onCoreFailure?: (error: unknown) => void;
}

/** Exit code of a process stopped by a failed core assertion. */
export const coreFailureExitCode = 70;

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
  const roles = hooks.roles ?? { frontend: frontendRole, dispatcher: dispatcherRole };
  const host = new Host(app, config, nodeId, log, onCoreFailure, roles);
  host.routes();
  log.info('listening', {
    url,
    store: hasDispatcher ? redactUrl(config.store) : 'none',
    dispatchers: hasFrontend ? host.frontendDispatchers() : undefined,
    peers: hasDispatcher ? config.peers : undefined,
  });
  let closing: Promise<void> | null = null;
  return {
    nodeId,
    url,
    port,
    health: () => host.health(),
    close: () => (closing ??= host.shutdown(listenSocket)),
  };
}

class Host {
  private readonly frontendState: FrontendState | null;
  private readonly dispatcherState: DispatcherState | null;
  private readonly store: SubscriptionStorePort | null;
  private readonly metrics: Metrics;
  private readonly clients: Clients;
  /** When each connection's subscribe token expires (only with `--jwt-secret`). */
  private readonly expiries = new Expiries((id) => this.tokenExpired(id));
  /** Publishes awaiting the core's answer, by the id the host gave them. */
  private readonly publishers = new Map<PublishId, PendingPublish>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly timers: Record<Work['role'], { timer: NodeJS.Timeout; atMs: number } | null> = {
    frontend: null,
    dispatcher: null,
  };
  private readonly queue: Work[] = [];
  private draining = false;
  private coreFailed = false;
  /** The core's clock: wall time that never runs backwards. */
  private readonly now = monotonicClock();
  private nextConnection = 1;
  private nextPublisher = 1;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly jwtKey: Uint8Array | null;
  private readonly demoPage: string | null;
  /** The largest body or WebSocket message worth reading: a payload at the limit, JSON-escaped. */
  private readonly bodyBytesMax: number;
  private readonly wsMessageBytesMax: number;
  private shuttingDown = false;
  private readonly internalHeaders: Record<string, string>;
  /** Required on every `/internal/` request: the deployment's, or (role all) one made up here. */
  private readonly internalToken: string;
  private readonly startedAtMs = Date.now();

  constructor(
    private readonly app: TemplatedApp,
    private readonly config: ServeConfig,
    private readonly nodeId: NodeId,
    private readonly log: Logger,
    private readonly onCoreFailure: (error: unknown) => void,
    private readonly roles: ServerRoles,
  ) {
    this.jwtKey = jwtSecretKey(config.jwtSecret);
    // Role all talks to itself by direct calls, so its made-up token is never sent anywhere: its
    // `/internal/` endpoint refuses everyone.
    this.internalToken = config.internalToken ?? randomBytes(32).toString('hex');
    this.internalHeaders = {
      'content-type': 'application/json',
      authorization: `Bearer ${this.internalToken}`,
    };
    this.bodyBytesMax = config.payloadLimitBytes * 6 + 16_384;
    this.wsMessageBytesMax = config.payloadLimitBytes + 4_096;
    this.demoPage = config.role === 'all' ? readFileSync(demoPagePath, 'utf8') : null;
    this.metrics = createMetrics(
      {
        connections: () => this.clients.counts(),
        subscriptions: () => {
          let pairs = 0;
          for (const topics of this.frontendState?.connections.values() ?? []) pairs += topics.size;
          return pairs;
        },
        topics: () => this.frontendState?.topics.size ?? 0,
        storeUp: () => (this.store === null ? null : this.store.status() === 'up'),
        coreCounters: () => [
          ...(this.frontendState ? [{ role: 'frontend', counters: this.frontendState.counters }] : []),
          ...(this.dispatcherState ? [{ role: 'dispatcher', counters: this.dispatcherState.counters }] : []),
        ],
      },
      { dc: config.dc, role: config.role },
    );
    this.clients = new Clients(
      config,
      this.metrics,
      log,
      (id) => {
        this.expiries.delete(id);
        if (this.frontendState?.connections.has(id)) this.clientAction(id, { type: 'disconnect' });
      },
      (topic, frame) => app.publish(topic, frame, false),
    );
    const hasFrontend = config.role !== 'dispatcher';
    const hasDispatcher = config.role !== 'frontend';
    this.store = hasDispatcher ? this.openStore() : null;
    this.dispatcherState = hasDispatcher
      ? roles.dispatcher.create({
          nodeId,
          dc: config.dc,
          peers: config.peers,
          // Unique per incarnation: datacenter, node and a random boot id.
          idPrefix: `${config.dc}.${new URL(nodeId).port || '80'}.${randomBytes(4).toString('hex')}-`,
          storeRequestTimeoutMs: config.storeTimeoutMs,
          storeRebuildWindowMs: storeRebuildWindowMs(config),
          limits: { payloadBytesMax: config.payloadLimitBytes },
        })
      : null;
    this.frontendState = hasFrontend
      ? roles.frontend.create({
          nodeId,
          dc: config.dc,
          dispatchers: config.dispatchers.length > 0 ? config.dispatchers : [nodeId],
          leaseMs: config.leaseMs,
          leaseRequestTimeoutMs: config.storeTimeoutMs + 500,
          // Generations grow across restarts: microseconds of the wall clock at boot.
          generationStart: Date.now() * 1000,
          limits: {
            connectionsMax: config.connectionsMax,
            topicsPerConnectionMax: config.topicsPerConnectionMax,
            payloadBytesMax: config.payloadLimitBytes,
          },
        })
      : null;
    if (hasFrontend) {
      this.heartbeat = setInterval(() => this.clients.heartbeat(), config.heartbeatMs);
    }
  }

  frontendDispatchers(): NodeId[] {
    return this.frontendState?.config.dispatchers ?? [];
  }

  health(): Health {
    const storeDown = this.store !== null && this.store.status() === 'down';
    return {
      status: this.shuttingDown ? 'shutting-down' : storeDown ? 'degraded' : 'ok',
      role: this.config.role,
      dc: this.config.dc,
      node: this.nodeId,
      connections: this.clients.size,
      topics: this.frontendState?.topics.size ?? 0,
      store: this.store === null ? 'none' : this.store.status(),
      uptimeMs: Date.now() - this.startedAtMs,
    };
  }

  private openStore(): SubscriptionStorePort {
    const onLease = (change: { change: string; topic: string; frontend: string }): void => {
      this.metrics.leases.inc({ change: change.change });
      this.log.debug('lease', { ...change });
    };
    if (this.config.store === 'memory') return new MemoryStore({}, onLease);
    return new RedisStore({
      url: this.config.store,
      prefix: this.config.redisPrefix,
      onLease,
      // The first verdict (at start) and every change: an operator sees a dead store at once.
      onStatus: (status, error) => {
        if (status === 'up') this.log.info('store up', { store: redactUrl(this.config.store) });
        else {
          this.log.warn('store down: publishes fail with 503 until it is back', {
            store: redactUrl(this.config.store),
            error: error?.message,
          });
        }
      },
    });
  }

  // ---------------------------------------------------------------- the core loop

  private feed(work: Work): void {
    // After a failed core assertion nothing more is handled: the state may be corrupt.
    if (this.coreFailed) return;
    this.queue.push(work);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        const now = this.now();
        let effects: Effect[];
        try {
          effects =
            next.role === 'frontend'
              ? this.roles.frontend.handle(this.requireFrontend(), next.input, now)
              : this.roles.dispatcher.handle(this.requireDispatcher(), next.input, now);
        } catch (error) {
          // The core never throws on the weather: a throw is our bug, and the role's state may now
          // be corrupt. Serving on from it could deliver to the wrong viewers, so the process stops
          // loudly and its supervisor starts a fresh one (clients reconnect and resume).
          this.log.error('core assertion failed: stopping', {
            role: next.role,
            input: next.input.kind,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          });
          this.coreFailed = true;
          this.queue.length = 0;
          this.onCoreFailure(error);
          return;
        }
        for (const effect of effects) {
          try {
            this.perform(next.role, effect);
          } catch (error) {
            // A host bug performing one effect must not cost the rest of the batch.
            this.log.error('effect failed', { role: next.role, effect: effect.kind, error: String(error) });
          }
        }
      }
    } finally {
      this.draining = false;
    }
    this.arm('frontend');
    this.arm('dispatcher');
  }

  private arm(role: Work['role']): void {
    const due =
      role === 'frontend'
        ? this.frontendState && this.roles.frontend.deadline(this.frontendState)
        : this.dispatcherState && this.roles.dispatcher.deadline(this.dispatcherState);
    const armed = this.timers[role];
    if (armed !== null && armed.atMs === due) return;
    if (armed !== null) clearTimeout(armed.timer);
    this.timers[role] = null;
    if (due === null || this.shuttingDown) return;
    const timer = setTimeout(
      () => {
        this.timers[role] = null;
        this.feed({ role, input: { kind: 'deadline' } } as Work);
      },
      Math.max(1, due - Date.now()),
    );
    this.timers[role] = { timer, atMs: due };
  }

  private requireFrontend(): FrontendState {
    assert(this.frontendState !== null, 'frontend input on a node without the frontend role');
    return this.frontendState;
  }

  private requireDispatcher(): DispatcherState {
    assert(this.dispatcherState !== null, 'dispatcher input on a node without the dispatcher role');
    return this.dispatcherState;
  }

  private perform(role: Work['role'], effect: Effect): void {
    switch (effect.kind) {
      case 'send':
        // Every publisher's answer, over HTTP, WebSocket or from another node, is counted here once.
        if (effect.message.type === 'publish-reply') {
          const { result } = effect.message;
          this.metrics.publishes.inc({ result: result.ok ? 'ok' : result.code });
        }
        this.send(effect.target, effect.message);
        return;
      case 'deliver':
        this.clients.deliver(effect.connections, effect.event, effect.wholeTopic);
        return;
      case 'notice':
        this.clients.notice(effect.connection, effect.notice);
        return;
      case 'joined':
        // A WebSocket's topics in uWebSockets.js follow the core's, so a whole-topic `deliver` can
        // be one publish there; and the client hears that its subscription took effect.
        this.clients.joined(effect.connection, effect.topic);
        return;
      case 'left':
        this.clients.left(effect.connection, effect.topic);
        return;
      case 'publish-reply':
        this.metrics.publishes.inc({ result: effect.result.ok ? 'ok' : effect.result.code });
        this.answerPublisher(effect.publishId, effect.result);
        return;
      case 'close': {
        const conn = this.clients.get(effect.connection);
        if (conn !== undefined) this.clients.close(conn, 'end', effect.reason);
        return;
      }
      case 'store-request':
        this.storeRequest(effect.requestId, effect.request);
        return;
      case 'drop':
        this.metrics.drops.inc({ reason: effect.reason });
        this.log.debug('drop', { by: role, ...effect, kind: undefined });
        return;
      case 'lease':
        this.metrics.leases.inc({ change: effect.lease.change });
        this.log.debug('lease', { ...effect.lease });
        return;
      case 'published':
        this.log.debug('published', { id: effect.event.id, topic: effect.event.topic });
        return;
      default:
        unreachable(effect);
    }
  }

  // ---------------------------------------------------------------- node-to-node

  private send(target: NodeId, message: Message): void {
    if (target === this.nodeId) {
      if (!this.receive(this.nodeId, message)) this.metrics.internalSends.inc({ outcome: 'no-role' });
      return;
    }
    const body = JSON.stringify({ source: this.nodeId, message });
    const sent = fetch(`${target}/internal/message`, {
      method: 'POST',
      headers: this.internalHeaders,
      body,
      signal: AbortSignal.timeout(sendTimeoutMs),
    }).then(
      async (response) => {
        await response.arrayBuffer();
        this.metrics.internalSends.inc({ outcome: response.ok ? 'ok' : 'refused' });
      },
      (error: unknown) => {
        // The weather: the core notices the missing reply and times out by itself.
        this.metrics.internalSends.inc({ outcome: 'failed' });
        this.log.debug('send failed', { target, type: message.type, error: String(error) });
      },
    );
    this.track(sent);
  }

  /** A message from another node (or this one): to the role that handles its type. */
  private receive(source: NodeId, message: Message): boolean {
    if (frontendMessages.has(message.type)) {
      if (this.frontendState === null) return false;
      this.feed({ role: 'frontend', input: { kind: 'message', source, message } });
      return true;
    }
    if (dispatcherMessages.has(message.type)) {
      if (this.dispatcherState === null) return false;
      this.feed({ role: 'dispatcher', input: { kind: 'message', source, message } });
      return true;
    }
    return false;
  }

  private storeRequest(requestId: number, request: StoreRequest): void {
    const store = this.store;
    assert(store !== null, 'a store request on a node without a store');
    const started = performance.now();
    const done = store.request(request).then(
      (reply) => {
        this.metrics.storeLatency.observe(
          { op: request.op, outcome: reply.op === 'rejected' ? 'rejected' : 'ok' },
          (performance.now() - started) / 1000,
        );
        this.feed({ role: 'dispatcher', input: { kind: 'store-reply', requestId, reply } });
      },
      (error: unknown) => {
        // No reply: the dispatcher's store timeout answers the publisher with a retry hint.
        this.metrics.storeLatency.observe(
          { op: request.op, outcome: 'error' },
          (performance.now() - started) / 1000,
        );
        this.log.debug('store request failed', { op: request.op, error: String(error) });
      },
    );
    this.track(done);
  }

  private track(promise: Promise<unknown>): void {
    this.inflight.add(promise);
    void promise.finally(() => this.inflight.delete(promise));
  }

  // ---------------------------------------------------------------- clients

  private clientAction(connection: ConnectionId, action: ClientAction): void {
    this.feed({ role: 'frontend', input: { kind: 'client', connection, action } });
  }

  private newConnectionId(): ConnectionId {
    return `${this.nodeId}#${this.nextConnection++}`;
  }

  // ---------------------------------------------------------------- routes

  routes(): void {
    const app = this.app;
    /** The methods each route takes, for `405` and its `Allow` header. */
    const known: Record<string, string> = {
      '/healthz': 'GET, HEAD',
      '/metrics': 'GET, HEAD',
      '/internal/message': 'POST',
    };
    /** A GET route that answers HEAD too: the same status and headers, no body. */
    const getAndHead = (pattern: string, handler: (ex: Exchange) => void): void => {
      app.get(pattern, (res) => handler(exchange(res)));
      app.head(pattern, (res) => handler(exchange(res, { head: true })));
    };
    getAndHead('/healthz', (ex) => {
      // Load balancers and `stadium cluster` read the status code: only `ok` is 200.
      const health = this.health();
      reply(ex, health.status === 'ok' ? 200 : 503, JSON.stringify(health));
    });
    getAndHead('/metrics', (ex) => {
      void this.metrics.registry
        .metrics()
        .then((text) => reply(ex, 200, text, { 'Content-Type': this.metrics.registry.contentType }));
    });
    app.post('/internal/message', (res, req) =>
      this.onInternalMessage(exchange(res), req.getHeader('authorization')),
    );
    if (this.dispatcherState !== null) {
      known['/v1/publish'] = 'POST';
      app.post('/v1/publish', (res, req) =>
        this.onPublish(exchange(res), req.getHeader('authorization'), req.getHeader('content-length')),
      );
      app.options('/v1/publish', (res) => {
        reply(exchange(res), 204, '', {
          'Access-Control-Allow-Origin': '*',
          'Access-Control-Allow-Methods': 'POST',
          'Access-Control-Allow-Headers': 'Content-Type, Authorization',
          'Content-Type': 'text/plain',
        });
      });
    }
    if (this.frontendState !== null) {
      known['/v1/stream'] = 'GET';
      known['/v1/ws'] = 'GET';
      app.get('/v1/stream', (res, req) =>
        this.onStream(
          exchange(res),
          req.getQuery(),
          req.getHeader('last-event-id'),
          req.getHeader('authorization'),
        ),
      );
      this.websocketRoute();
    }
    if (this.demoPage !== null) {
      known['/'] = 'GET, HEAD';
      const page = this.demoPage;
      getAndHead('/', (ex) => reply(ex, 200, page, { 'Content-Type': 'text/html; charset=utf-8' }));
    }
    app.any('/*', (res, req) => {
      const method = req.getCaseSensitiveMethod();
      const ex = exchange(res, { head: method === 'HEAD' });
      const path = req.getUrl();
      const allowed = known[path];
      // uWebSockets.js hands `/v1/ws` to the WebSocket route only with a valid upgrade request.
      if (path === '/v1/ws' && method === 'GET' && allowed !== undefined) {
        return this.fail(
          ex,
          httpError(
            426,
            'upgrade-required',
            'GET /v1/ws is a WebSocket endpoint: ask for an upgrade (Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version: 13)',
          ),
          { Upgrade: 'websocket', Connection: 'Upgrade' },
        );
      }
      const error =
        allowed !== undefined
          ? httpError(405, 'method-not-allowed', `${method} ${path} is not supported; use ${allowed}`)
          : httpError(404, 'not-found', `no route ${path} on this ${this.config.role} node`);
      this.fail(ex, error, allowed !== undefined ? { Allow: allowed } : {});
    });
  }

  private fail(
    ex: Exchange,
    error: HttpError,
    headers: Record<string, string> = {},
    closeConnection = false,
  ): void {
    this.metrics.httpErrors.inc({ code: error.code });
    replyError(ex, error, headers, {}, closeConnection);
  }

  private onInternalMessage(ex: Exchange, authorization: string): void {
    const denied = checkBearerToken(
      this.internalToken,
      bearerToken(authorization),
      "node-to-node requests need this deployment's internal token",
    );
    if (denied !== null) return this.fail(ex, denied);
    readBody(
      ex,
      this.bodyBytesMax,
      (body) => {
        const parsed = parseInternalMessage(body);
        if (isHttpError(parsed)) return this.fail(ex, parsed);
        if (!this.receive(parsed.source, parsed.message)) {
          return this.fail(
            ex,
            httpError(404, 'wrong-role', `a ${this.config.role} node does not take ${parsed.message.type}`),
          );
        }
        reply(ex, 202, '{"ok":true}');
      },
      () =>
        this.fail(
          ex,
          httpError(413, 'payload-too-large', `message over ${this.bodyBytesMax} bytes`),
          {},
          true,
        ),
    );
  }

  private onPublish(ex: Exchange, authorization: string, contentLength: string): void {
    const cors = { 'Access-Control-Allow-Origin': '*' };
    if (this.shuttingDown)
      return this.fail(ex, httpError(503, 'shutting-down', 'this node is shutting down'), {
        'Retry-After': '1',
        ...cors,
      });
    const authError = checkPublishToken(this.config.publishToken, bearerToken(authorization));
    if (authError !== null) return this.fail(ex, authError, cors);
    const tooLarge = httpError(
      413,
      'payload-too-large',
      `the body is over ${this.bodyBytesMax} bytes (the payload limit is ${this.config.payloadLimitBytes} bytes)`,
    );
    if (contentLength !== '' && Number(contentLength) > this.bodyBytesMax)
      return this.fail(ex, tooLarge, cors, true);
    readBody(
      ex,
      this.bodyBytesMax,
      (body) => {
        const parsed = parsePublishBody(body);
        if (isHttpError(parsed)) return this.fail(ex, parsed, cors);
        if (!parsed.batch) return this.startPublish(parsed.request, { ex });
        // Every event of a batch is its own publish; the reply waits for all of them.
        const batch: PendingBatch = { ex, results: [], left: 0 };
        for (const item of parsed.items) {
          batch.results.push(
            isHttpError(item) ? { status: item.status, code: item.code, error: item.message } : null,
          );
          if (!isHttpError(item)) batch.left++;
        }
        if (batch.left === 0) return this.finishBatch(batch);
        parsed.items.forEach((item, index) => {
          if (!isHttpError(item)) this.startPublish(item, { batch, index });
        });
      },
      () => this.fail(ex, tooLarge, cors, true),
    );
  }

  private startPublish(request: PublishRequest, pending: PendingPublish): void {
    const publishId = this.nextPublisher++;
    this.publishers.set(publishId, pending);
    this.feed({ role: 'dispatcher', input: { kind: 'publish', publishId, request } });
  }

  /** One event of a batch is answered; the batch's reply goes once the last one is. */
  private settleBatchEvent(
    { batch, index }: { batch: PendingBatch; index: number },
    result: BatchResult,
  ): void {
    batch.results[index] = result;
    if (--batch.left === 0) this.finishBatch(batch);
  }

  private finishBatch(batch: PendingBatch): void {
    reply(batch.ex, 200, JSON.stringify({ results: batch.results }), { 'Access-Control-Allow-Origin': '*' });
  }

  private answerPublisher(publishId: PublishId, result: PublishResult): void {
    const pending = this.publishers.get(publishId);
    if (pending === undefined) return;
    this.publishers.delete(publishId);
    if ('batch' in pending) {
      return this.settleBatchEvent(
        pending,
        result.ok
          ? publishedBody(result)
          : {
              status: publishErrorStatus(result.code),
              code: result.code,
              error: result.message,
              ...(result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs }),
            },
      );
    }
    const cors = { 'Access-Control-Allow-Origin': '*' };
    if (result.ok) {
      reply(pending.ex, 200, JSON.stringify(publishedBody(result)), cors);
      return;
    }
    const status = publishErrorStatus(result.code);
    const error = httpError(status, result.code, result.message);
    if (result.retryAfterMs === undefined) return replyError(pending.ex, error, cors);
    replyError(
      pending.ex,
      error,
      { 'Retry-After': String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))), ...cors },
      { retryAfterMs: result.retryAfterMs },
    );
  }

  private onStream(ex: Exchange, query: string, lastEventIdHeader: string, authorization: string): void {
    const cors = { 'Access-Control-Allow-Origin': '*' };
    if (this.shuttingDown)
      return this.fail(ex, httpError(503, 'shutting-down', 'this node is shutting down'), cors);
    const parsed = parseStreamQuery(query, lastEventIdHeader, this.config.topicsPerConnectionMax);
    if (isHttpError(parsed)) return this.fail(ex, parsed, cors);
    const open = (grant: TopicGrant): void => {
      if (ex.aborted) return;
      const denied = grantError(grant, parsed.topics);
      if (denied !== null) return this.fail(ex, denied, cors);
      ex.answered = true;
      const conn = this.clients.openSse(this.newConnectionId(), ex.res);
      ex.onAbort = this.sseAborted(conn.id);
      this.clientAction(conn.id, { type: 'connect' });
      if (!conn.open) return;
      if (grant.expiresAtMs !== null) this.expiries.set(conn.id, grant.expiresAtMs);
      if (parsed.lastEventId !== null) {
        this.clientAction(conn.id, {
          type: 'resume',
          topics: parsed.topics,
          lastEventId: parsed.lastEventId,
        });
      } else {
        for (const topic of parsed.topics) this.clientAction(conn.id, { type: 'subscribe', topic });
      }
    };
    if (this.jwtKey === null) return open(openGrant);
    void subscribeGrant(this.jwtKey, parsed.token ?? bearerToken(authorization)).then((grant) => {
      if (isHttpError(grant)) return this.fail(ex, grant, cors);
      open(grant);
    });
  }

  /**
   * The client went away; the response must not be touched again. Made here, not inline, so the
   * closure each open stream keeps holds only the id (not the request's parsed query and friends).
   */
  private sseAborted(id: ConnectionId): () => void {
    return () => this.clients.lost(id);
  }

  private websocketRoute(): void {
    this.app.ws<WsData>('/v1/ws', {
      // Frames up to twice the message limit get a JSON error; larger ones close the socket (1009).
      maxPayloadLength: this.wsMessageBytesMax * 2,
      // The slow-client limit itself: uWebSockets.js' pub/sub skips frames past it and says so in
      // `dropped`, where the policy is applied (see prod/clients.ts).
      maxBackpressure: this.config.slowClientBytes,
      closeOnBackpressureLimit: false,
      dropped: (ws) => this.clients.dropped(ws.getUserData().id),
      idleTimeout: 120,
      sendPingsAutomatically: true,
      // The upgrade is always synchronous, inside the handler: upgrading later, after an await,
      // sometimes closes the new socket at once (uWebSockets issue #1108, fixed upstream in
      // uWebSockets PR #1929 but not in this build). So a token is verified after the upgrade,
      // and the socket's messages wait for the verdict.
      upgrade: (res, req, context) => {
        const ex = exchange(res);
        const token =
          new URLSearchParams(req.getQuery()).get('token') ?? bearerToken(req.getHeader('authorization'));
        if (this.shuttingDown) {
          return this.fail(ex, httpError(503, 'shutting-down', 'this node is shutting down'));
        }
        const missing = this.jwtKey === null ? null : subscribeTokenMissing(token);
        if (missing !== null) return this.fail(ex, missing);
        const data: WsData = {
          id: this.newConnectionId(),
          grant: this.jwtKey === null ? openGrant : null,
        };
        ex.answered = true;
        res.upgrade<WsData>(
          data,
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
        if (this.jwtKey !== null) {
          void subscribeGrant(this.jwtKey, token).then((grant) => this.onWsVerdict(data.id, grant));
        }
      },
      open: (ws) => {
        const conn = this.clients.openWs(ws);
        this.clientAction(conn.id, { type: 'connect' });
      },
      message: (ws, message) => {
        const conn = this.clients.get(ws.getUserData().id);
        if (conn === undefined || conn.kind !== 'ws' || !conn.open) return;
        if (conn.grant === null) {
          if (conn.held.length >= heldMessagesMax) {
            this.metrics.httpErrors.inc({ code: 'too-early' });
            this.clients.send(conn, wsError(429, 'too-early', 'wait for the token to be checked'));
            return;
          }
          // uWebSockets.js reuses the message's memory after this callback returns: copy it.
          conn.held.push(message.slice(0));
          return;
        }
        this.onClientMessage(conn, conn.grant, message);
      },
      close: (ws) => this.clients.lost(ws.getUserData().id),
    });
  }

  /** The token of a WebSocket is checked: refuse and close, or handle what it sent meanwhile. */
  private onWsVerdict(id: ConnectionId, grant: TopicGrant | HttpError): void {
    const conn = this.clients.get(id);
    if (conn === undefined || conn.kind !== 'ws' || !conn.open) return;
    if (isHttpError(grant)) {
      this.metrics.httpErrors.inc({ code: grant.code });
      this.clients.send(conn, wsError(grant.status, grant.code, grant.message));
      this.clients.close(conn, 'end', grant.code);
      return;
    }
    conn.grant = grant;
    if (grant.expiresAtMs !== null) this.expiries.set(conn.id, grant.expiresAtMs);
    for (const message of conn.held.splice(0)) {
      if (!conn.open) return;
      this.onClientMessage(conn, grant, message);
    }
  }

  private onClientMessage(conn: WsConnection, grant: TopicGrant, data: ArrayBuffer): void {
    const error = (e: HttpError): void => {
      this.metrics.httpErrors.inc({ code: e.code });
      this.clients.send(conn, wsError(e.status, e.code, e.message));
    };
    if (data.byteLength > this.wsMessageBytesMax) {
      return error(
        httpError(
          413,
          'payload-too-large',
          `message of ${data.byteLength} bytes is over the ${this.wsMessageBytesMax}-byte limit`,
        ),
      );
    }
    const message = parseClientMessage(
      Buffer.from(data).toString('utf8'),
      this.config.topicsPerConnectionMax,
    );
    if (isHttpError(message)) return error(message);
    switch (message.type) {
      case 'subscribe':
      case 'resume': {
        const denied = grantError(grant, message.topics);
        if (denied !== null) return error(denied);
        if (message.type === 'resume') {
          this.clientAction(conn.id, {
            type: 'resume',
            topics: message.topics,
            lastEventId: message.lastEventId,
          });
        } else {
          for (const topic of message.topics) this.clientAction(conn.id, { type: 'subscribe', topic });
        }
        return;
      }
      case 'unsubscribe':
        for (const topic of message.topics) this.clientAction(conn.id, { type: 'unsubscribe', topic });
        return;
      case 'publish': {
        // The publish token guards every way in, not only POST /v1/publish.
        const denied = checkPublishToken(this.config.publishToken, message.token);
        if (denied !== null) return error(denied);
        this.clientAction(conn.id, { type: 'publish', topic: message.topic, payload: message.payload });
        return;
      }
      case 'refresh':
        void subscribeGrant(this.jwtKey, message.token).then((fresh) => this.onRefresh(conn, fresh));
        return;
      case 'ping':
        this.clients.send(conn, JSON.stringify({ type: 'pong' }));
        return;
      default:
        unreachable(message);
    }
  }

  /**
   * A WebSocket sent a fresh subscribe token: it replaces the grant (and the connection's expiry)
   * if it is valid and allows every topic the connection is on; otherwise the old one stands.
   */
  private onRefresh(conn: WsConnection, fresh: TopicGrant | HttpError): void {
    if (!conn.open) return;
    const refuse = (e: HttpError): void => {
      this.metrics.httpErrors.inc({ code: e.code });
      this.clients.send(conn, wsError(e.status, e.code, e.message));
    };
    if (this.jwtKey === null)
      return refuse(httpError(400, 'bad-request', 'this server takes no subscribe tokens'));
    if (isHttpError(fresh)) return refuse(fresh);
    const topics = [...(this.frontendState?.connections.get(conn.id) ?? noTopics)];
    const denied = grantError(fresh, topics);
    if (denied !== null) {
      return refuse(
        httpError(403, 'forbidden', `${denied.message}, which this connection is on: unsubscribe first`),
      );
    }
    conn.grant = fresh;
    if (fresh.expiresAtMs === null) this.expiries.delete(conn.id);
    else this.expiries.set(conn.id, fresh.expiresAtMs);
    this.clients.send(conn, JSON.stringify({ type: 'refreshed', expiresAtMs: fresh.expiresAtMs }));
  }

  /** A subscribe token's `exp` passed: tell the client why, and end its connection. */
  private tokenExpired(id: ConnectionId): void {
    const conn = this.clients.get(id);
    if (conn === undefined || !conn.open) return;
    this.metrics.httpErrors.inc({ code: 'token-expired' });
    const message = 'the subscribe token has expired: connect again with a fresh one';
    if (conn.kind === 'sse') this.clients.notice(id, { code: 'token-expired', message });
    else this.clients.send(conn, wsError(401, 'token-expired', message));
    this.clients.close(conn, 'end', 'token-expired');
  }

  // ---------------------------------------------------------------- shutdown

  async shutdown(listenSocket: us_listen_socket): Promise<void> {
    this.log.info('shutting down', { connections: this.clients.size });
    this.shuttingDown = true;
    us_listen_socket_close(listenSocket);
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.expiries.close();
    for (const conn of this.clients.all()) this.clients.close(conn, 'retry', 'server shutting down');
    for (const [source, pending] of this.publishers) {
      this.publishers.delete(source);
      if ('batch' in pending) {
        this.settleBatchEvent(pending, {
          status: 503,
          code: 'shutting-down',
          error: 'this node is shutting down',
        });
        continue;
      }
      replyError(pending.ex, httpError(503, 'shutting-down', 'this node is shutting down'), {
        'Retry-After': '1',
      });
    }
    // The unsubscribes just sent, and store writes they caused here, get a moment to land.
    const deadline = new Promise((resolve) => setTimeout(resolve, this.config.shutdownGraceMs).unref());
    for (let round = 0; round < 3 && this.inflight.size > 0; round++) {
      await Promise.race([Promise.allSettled([...this.inflight]), deadline]);
    }
    for (const role of ['frontend', 'dispatcher'] as const) {
      const armed = this.timers[role];
      if (armed !== null) clearTimeout(armed.timer);
      this.timers[role] = null;
    }
    await this.store?.close();
    this.app.close();
    this.log.info('stopped');
  }
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

/** The 200 body of one published event: its id, and a warning when it may not reach every viewer. */
function publishedBody(result: Extract<PublishResult, { ok: true }>): {
  id: string;
  warning?: PublishWarning;
} {
  return result.warning === undefined
    ? { id: result.eventId }
    : { id: result.eventId, warning: result.warning };
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

function redactUrl(store: string): string {
  return store.replace(/\/\/[^@/]*@/, '//***@');
}
