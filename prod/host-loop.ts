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
 *   `publish-reply` to the HTTP publish waiting for it (prod/route-publish.ts); `drop`, `lease` and
 *   `published` become metrics and debug logs. A host bug performing one effect is logged and does
 *   not cost the rest.
 * - Deadlines: after each drained queue one timer per role is armed for `deadline(state)`, and
 *   moved only when that changes. Once shutdown began no new timer is armed.
 * - Messages from other nodes (or this one) go to the role that handles their type.
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
  PublishId,
  PublishResult,
  RequestId,
  StoreRequest,
} from '../core/index.ts';
import type { Clients } from './clients.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
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
    if (frontendMessages.has(message.type)) {
      if (this.frontend === null) return false;
      this.feed({ role: 'frontend', input: { kind: 'message', source, message } });
      return true;
    }
    if (dispatcherMessages.has(message.type)) {
      if (this.dispatcher === null) return false;
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
    switch (effect.kind) {
      case 'send':
        // Every publisher's answer, over HTTP, WebSocket or from another node, is counted here once.
        if (effect.message.type === 'publish-reply') {
          const { result } = effect.message;
          this.metrics.publishes.inc({ result: result.ok ? 'ok' : result.code });
        }
        this.targets.send(effect.target, effect.message);
        return;
      case 'deliver':
        clients.deliver(effect.connections, effect.event, effect.wholeTopic);
        return;
      case 'notice':
        clients.notice(effect.connection, effect.notice);
        return;
      case 'connected':
        // The transport is open already; nothing to do until the client acts.
        return;
      case 'joined':
        // A WebSocket's topics in uWebSockets.js follow the core's, so a whole-topic `deliver` can
        // be one publish there; and the client hears that its subscription took effect.
        clients.joined(effect.connection, effect.topic);
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
      case 'trimmed':
        // Reliable mode's history facts; production runs best-effort until issue 15.
        return;
      default:
        unreachable(effect);
    }
  }
}
