/**
 * The embedded store: the core's pure subscription store, fed the real clock. One process only;
 * dispatchers in other processes cannot see it (use Redis for those).
 */
import { applyStoreRequest, createStore, storeDeadline, sweepStore } from '../core/index.ts';
import type { StoreLimits, StoreReply, StoreRequest, StoreState } from '../core/index.ts';
import { monotonicClock } from './monotonic-clock.ts';
import type { LeaseListener, SubscriptionStorePort } from './store-port.ts';

export class MemoryStore implements SubscriptionStorePort {
  private readonly state: StoreState;
  private readonly timer: NodeJS.Timeout;
  /** The core's store wants a clock that never runs backwards. */
  private readonly now = monotonicClock();

  constructor(
    limits: Partial<StoreLimits> = {},
    private readonly onLease: LeaseListener = () => {},
  ) {
    // A later process's store has a larger epoch: microseconds of the wall clock at its birth.
    this.state = createStore(limits, Date.now() * 1000);
    // Sweeping is what bounds memory when frontends die without unsubscribing.
    this.timer = setInterval(() => this.sweep(), Math.min(this.state.limits.sweepEveryMs, 1_000));
    this.timer.unref();
  }

  request(request: StoreRequest): Promise<StoreReply> {
    const { reply, changes } = applyStoreRequest(this.state, request, this.now());
    for (const change of changes) this.onLease(change);
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
    for (const change of sweepStore(this.state, now)) this.onLease(change);
  }
}
