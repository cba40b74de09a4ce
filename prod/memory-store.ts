/**
 * The embedded store: the core's pure subscription store, fed the real clock. One process only;
 * dispatchers in other processes cannot see it (use Redis for those).
 *
 * It answers every request the core's store answers, reliable mode's `append` and `read` included,
 * and sweeps on its own timer as the core's store node does on its deadline: lapsed leases are
 * reported and forgotten, histories trimmed by age. What the core reports as effects goes to the
 * listeners: lease changes to `onLease`, appends and trims to `onHistory`.
 */
import { applyStoreRequest, createStore, storeDeadline, storeRole } from '../core/index.ts';
import type { StoreLimits, StoreReply, StoreRequest, StoreState } from '../core/index.ts';
import { monotonicClock } from './monotonic-clock.ts';
import type { HistoryListener, LeaseListener, SubscriptionStorePort } from './store-port.ts';

export class MemoryStore implements SubscriptionStorePort {
  private readonly state: StoreState;
  private readonly timer: NodeJS.Timeout;
  /** The core's store wants a clock that never runs backwards. */
  private readonly now = monotonicClock();

  constructor(
    limits: Partial<StoreLimits> = {},
    private readonly onLease: LeaseListener = () => {},
    private readonly onHistory: HistoryListener = () => {},
  ) {
    // A later process's store has a larger epoch: microseconds of the wall clock at its birth.
    this.state = createStore(limits, Date.now() * 1000);
    // Sweeping is what bounds memory when frontends die without unsubscribing.
    this.timer = setInterval(() => this.sweep(), Math.min(this.state.limits.sweepEveryMs, 1_000));
    this.timer.unref();
  }

  request(request: StoreRequest): Promise<StoreReply> {
    const { reply, changes, history } = applyStoreRequest(this.state, request, this.now());
    for (const change of changes) this.onLease(change);
    const epoch = this.state.epoch;
    if (history?.appended !== undefined) this.onHistory({ kind: 'appended', epoch, ...history.appended });
    for (const { topic, throughSeq } of history?.trims ?? [])
      this.onHistory({ kind: 'trimmed', topic, epoch, throughSeq });
    return Promise.resolve(reply);
  }

  status(): 'up' | 'down' {
    return 'up';
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return Promise.resolve();
  }

  private sweep(): void {
    const now = this.now();
    const due = storeDeadline(this.state);
    if (due === null || now < due) return;
    // The store node's deadline: leases swept and histories trimmed by age, as effects.
    for (const effect of storeRole.handle(this.state, { kind: 'deadline' }, now)) {
      if (effect.kind === 'lease') this.onLease(effect.lease);
      else if (effect.kind === 'trimmed') this.onHistory(effect);
    }
  }
}
