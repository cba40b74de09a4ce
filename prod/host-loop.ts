/**
 * The host loop: the one place in production where the core runs. It keeps each role's state,
 * feeds it inputs, performs the effects it returns, and arms its deadline. It maps effects to IO
 * and decides nothing.
 *
 * Theory of operation
 * - Feed: `handle(state, input, now)` with `now` from a clock that never runs backwards. Inputs that
 *   arrive while effects are being performed (a local send, a closed socket) queue up, so `handle`
 *   is never re-entered; the queue is drained in arrival order.
 * - Perform: every effect of one input before the next input. `send` goes to the peer transport
 *   (prod/peer-transport.ts), `deliver`, `notice`, `joined`, `left` and `close` to the client
 *   transports (prod/clients.ts), `store-request` to the store (prod/store-calls.ts),
 *   `publish-reply` to the HTTP publish waiting for it (prod/route-publish.ts), `occupancy` to the
 *   client transports and `occupancy-reply` to the HTTP query waiting for it
 *   (prod/route-occupancy.ts); `drop`, `lease` and
 *   `published` become metrics and debug logs, as do reliable mode's `appended` and `trimmed`. A
 *   host bug performing one effect is logged and does not cost the rest.
 * - Deadlines: after each drained queue one timer per role is armed for `deadline(state)`, and
 *   moved only when that changes. Once shutdown began no new timer is armed.
 * - Messages from other nodes (or this one) go to the role that handles their type
 *   (`messageRoles`, which names a home for every message type, so a new one cannot be forgotten).
 * - Reliable mode's metrics the roles cannot measure are taken here: a dispatcher's deliveries are
 *   timed from their first send to their `deliver-ack` by delivery id (a resend of a known id is a
 *   retry), at most `deliveryTimingsMax` of them and for `deliveryTimingMs` (a delivery never
 *   acknowledged is forgotten then); forward acks, history replies and gap notices are counted as
 *   they pass.
 * - A role that throws failed an assertion (the core never throws on the weather): its state may
 *   be corrupt, so nothing more is handled and `onCoreFailure` stops the process.
 */
import { assert, unreachable } from '../core/index.ts';
import type {
  CoreRoles,
  DispatcherInput,
  DispatcherState,
  Effect,
  FrontendInput,
  FrontendState,
  Message,
  MessageType,
  NodeId,
  OccupancyResult,
  PublishId,
  PublishResult,
  RequestId,
  StoreRequest,
} from '../core/index.ts';
import type { Clients } from './clients.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Recorder } from './recorder.ts';
import { monotonicClock } from './monotonic-clock.ts';
import type { Lifecycle } from './shutdown.ts';

/** The role implementations a server runs: the core's, or (tests, chaos runs) a planted-bug copy. */
export type ServerRoles = Pick<CoreRoles, 'frontend' | 'dispatcher'>;

/** One input for one role. */
export type Work =
  { role: 'frontend'; input: FrontendInput } | { role: 'dispatcher'; input: DispatcherInput };

/** Where the loop performs effects: each is a thin adapter over IO. */
export interface EffectTargets {
  /** `send`: to another node, or to this one. */
  send(target: NodeId, message: Message): void;
  /** `deliver`, `notice`, `joined`, `left`, `close`. */
  clients: Clients;
  /** `store-request`: its answer comes back as a `store-reply` input. */
  storeRequest(requestId: RequestId, request: StoreRequest): void;
  /** `publish-reply`: the answer to a publish the host fed as a `publish` input. */
  answerPublish(publishId: PublishId, result: PublishResult): void;
  /** `occupancy-reply`: the answer to a query the host fed as an `occupancy` input. */
  answerOccupancy(queryId: PublishId, result: OccupancyResult): void;
}

/**
 * Which role handles each node-to-node message. `store-request` and `store-reply` never travel
 * between production nodes (a dispatcher calls its store directly): no role takes them from outside.
 */
export const messageRoles: Readonly<Record<MessageType, Work['role'] | null>> = {
  publish: 'dispatcher',
  subscribe: 'dispatcher',
  renew: 'dispatcher',
  unsubscribe: 'dispatcher',
  forward: 'dispatcher',
  'forward-ack': 'dispatcher',
  'deliver-ack': 'dispatcher',
  'history-read': 'dispatcher',
  occupancy: 'dispatcher',
  deliver: 'frontend',
  'lease-reply': 'frontend',
  'publish-reply': 'frontend',
  'store-reset': 'frontend',
  'history-reply': 'frontend',
  'store-request': null,
  'store-reply': null,
};

/** Deliveries timed from send to ack at once; past it the oldest is forgotten untimed. */
export const deliveryTimingsMax = 100_000;
/** How long a delivery's timing waits for its ack: well past every retry the core makes. */
export const deliveryTimingMs = 60_000;

export class HostLoop {
  private readonly queue: Work[] = [];
  private draining = false;
  private coreFailed = false;
  /** The core's clock: wall time that never runs backwards. */
  private readonly now = monotonicClock();
  private readonly timers: Record<Work['role'], { timer: NodeJS.Timeout; atMs: number } | null> = {
    frontend: null,
    dispatcher: null,
  };
  /** Reliable mode: deliveries this dispatcher sent and not yet saw acknowledged, oldest first: when sent. */
  private readonly deliveriesSent = new Map<RequestId, number>();

  constructor(
    private readonly roles: ServerRoles,
    /** This node's frontend, or null when it has none. */
    readonly frontend: FrontendState | null,
    /** This node's dispatcher, or null when it has none. */
    readonly dispatcher: DispatcherState | null,
    private readonly targets: EffectTargets,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly lifecycle: Lifecycle,
    private readonly onCoreFailure: (error: unknown) => void,
    /** Told every effect before it is performed (chaos runs); null: nobody is. */
    private readonly recorder: Recorder | null = null,
  ) {}

  feed(work: Work): void {
    // After a failed core assertion nothing more is handled: the state may be corrupt.
    if (this.coreFailed) return;
    this.queue.push(work);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        const now = this.now();
        if (
          next.role === 'dispatcher' &&
          next.input.kind === 'store-reply' &&
          next.input.reply.op === 'appended'
        )
          this.metrics.historyAppends.inc({ result: next.input.reply.duplicate ? 'duplicate' : 'new' });
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

  /** A message from another node (or this one): to the role that handles its type; false if none here. */
  receive(source: NodeId, message: Message): boolean {
    const role = messageRoles[message.type];
    if (role === 'frontend') {
      if (this.frontend === null) return false;
      if (message.type === 'history-reply')
        this.metrics.historyReads.inc({ result: message.reply.ok ? 'ok' : 'failed' });
      this.feed({ role: 'frontend', input: { kind: 'message', source, message } });
      return true;
    }
    if (role === 'dispatcher') {
      if (this.dispatcher === null) return false;
      if (message.type === 'deliver-ack') this.deliveryAcked(message.deliveryId);
      else if (message.type === 'forward-ack') this.metrics.forwardAcks.inc({ direction: 'received' });
      else if (message.type === 'occupancy') this.metrics.occupancyMessages.inc({ direction: 'received' });
      this.feed({ role: 'dispatcher', input: { kind: 'message', source, message } });
      return true;
    }
    return false;
  }

  /** The last step of shutdown: no deadline fires any more. */
  stopTimers(): void {
    for (const role of ['frontend', 'dispatcher'] as const) {
      const armed = this.timers[role];
      if (armed !== null) clearTimeout(armed.timer);
      this.timers[role] = null;
    }
  }

  private arm(role: Work['role']): void {
    const due =
      role === 'frontend'
        ? this.frontend && this.roles.frontend.deadline(this.frontend)
        : this.dispatcher && this.roles.dispatcher.deadline(this.dispatcher);
    const armed = this.timers[role];
    if (armed !== null && armed.atMs === due) return;
    if (armed !== null) clearTimeout(armed.timer);
    this.timers[role] = null;
    if (due === null || this.lifecycle.shuttingDown) return;
    const timer = setTimeout(
      () => {
        this.timers[role] = null;
        this.feed({ role, input: { kind: 'deadline' } } as Work);
      },
      Math.max(1, due - Date.now()),
    );
    this.timers[role] = { timer, atMs: due };
  }

  /** A dispatcher sent `deliver` `deliveryId`: the first time starts its clock, another is a retry. */
  private deliverySent(deliveryId: RequestId): void {
    if (this.deliveriesSent.has(deliveryId)) {
      this.metrics.deliveryRetries.inc();
      return;
    }
    const now = performance.now();
    // Oldest first (insertion order): forget what waited too long, and keep the bound.
    for (const [id, sentAt] of this.deliveriesSent) {
      if (now - sentAt < deliveryTimingMs && this.deliveriesSent.size < deliveryTimingsMax) break;
      this.deliveriesSent.delete(id);
    }
    this.deliveriesSent.set(deliveryId, now);
    assert(this.deliveriesSent.size <= deliveryTimingsMax, 'delivery timings past their bound');
  }

  private deliveryAcked(deliveryId: RequestId): void {
    const sentAt = this.deliveriesSent.get(deliveryId);
    if (sentAt === undefined) return;
    this.deliveriesSent.delete(deliveryId);
    this.metrics.deliverAckLatency.observe((performance.now() - sentAt) / 1000);
  }

  private requireFrontend(): FrontendState {
    assert(this.frontend !== null, 'frontend input on a node without the frontend role');
    return this.frontend;
  }

  private requireDispatcher(): DispatcherState {
    assert(this.dispatcher !== null, 'dispatcher input on a node without the dispatcher role');
    return this.dispatcher;
  }

  private perform(role: Work['role'], effect: Effect): void {
    const { clients } = this.targets;
    this.recorder?.performed(role, effect, this.dispatcher);
    switch (effect.kind) {
      case 'send':
        // Every publisher's answer, over HTTP, WebSocket or from another node, is counted here once.
        if (effect.message.type === 'publish-reply') {
          const { result } = effect.message;
          this.metrics.publishes.inc({ result: result.ok ? 'ok' : result.code });
        } else if (effect.message.type === 'deliver' && effect.message.deliveryId !== undefined) {
          this.deliverySent(effect.message.deliveryId);
        } else if (effect.message.type === 'forward-ack') {
          this.metrics.forwardAcks.inc({ direction: 'sent' });
        } else if (effect.message.type === 'occupancy') {
          this.metrics.occupancyMessages.inc({ direction: 'sent' });
        }
        this.targets.send(effect.target, effect.message);
        return;
      case 'deliver':
        clients.deliver(effect.connections, effect.event, effect.wholeTopic, effect.position);
        return;
      case 'notice':
        if (effect.notice.gap !== undefined) this.metrics.gapNotices.inc({ why: effect.notice.gap.why });
        clients.notice(effect.connection, effect.notice);
        return;
      case 'connected':
        // The transport is open already; nothing to do until the client acts.
        return;
      case 'joined':
        // A WebSocket's topics in uWebSockets.js follow the core's, so a whole-topic `deliver` can
        // be one publish there; and the client hears that its subscription took effect.
        clients.joined(effect.connection, effect.topic, effect.position);
        return;
      case 'left':
        clients.left(effect.connection, effect.topic);
        return;
      case 'publish-reply':
        this.metrics.publishes.inc({ result: effect.result.ok ? 'ok' : effect.result.code });
        this.targets.answerPublish(effect.publishId, effect.result);
        return;
      case 'close': {
        const conn = clients.get(effect.connection);
        if (conn !== undefined) clients.close(conn, 'end', effect.reason);
        return;
      }
      case 'store-request':
        this.targets.storeRequest(effect.requestId, effect.request);
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
      case 'appended':
        // Production's stores report appends in their answers (counted in `feed`); a role that
        // says so itself is counted the same way.
        this.metrics.historyAppends.inc({ result: effect.duplicate ? 'duplicate' : 'new' });
        this.log.debug('appended', { id: effect.event.id, topic: effect.event.topic, seq: effect.seq });
        return;
      case 'trimmed':
        this.metrics.historyTrims.inc();
        this.log.debug('trimmed', {
          topic: effect.topic,
          epoch: effect.epoch,
          throughSeq: effect.throughSeq,
        });
        return;
      case 'occupancy':
        clients.occupancy(effect.connections, effect.occupancy);
        return;
      case 'occupancy-reply':
        this.metrics.occupancyQueries.inc({ result: effect.result.ok ? 'ok' : effect.result.code });
        this.targets.answerOccupancy(effect.queryId, effect.result);
        return;
      default:
        unreachable(effect);
    }
  }
}
