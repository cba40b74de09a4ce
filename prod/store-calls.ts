/**
 * The dispatcher's store, as the host loop uses it: opened from the config (the embedded memory
 * store, or Redis), asked once per `store-request` effect, its answer fed back as a `store-reply`
 * input. A failed request is only counted and logged: the dispatcher's own store timeout answers
 * the publisher with a retry hint. Every lease a store grants, renews, removes or expires becomes a
 * metric and a debug log; Redis' status changes are logged as they happen, so an operator sees a
 * dead store at once.
 */
import type { RequestId, StoreRequest } from '../core/index.ts';
import type { ServeConfig } from './config.ts';
import type { Work } from './host-loop.ts';
import type { InFlight } from './in-flight.ts';
import type { Logger } from './log.ts';
import { MemoryStore } from './memory-store.ts';
import type { Metrics } from './metrics.ts';
import type { Recorder } from './recorder.ts';
import { RedisStore } from './redis-store.ts';
import type { HistoryListener, LeaseListener, SubscriptionStorePort } from './store-port.ts';

export class StoreCalls {
  private readonly store: SubscriptionStorePort;

  constructor(
    config: ServeConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly inFlight: InFlight,
    private readonly feed: (work: Work) => void,
    /** Told every answer, failure, lease change and history change (chaos runs); null: nobody is. */
    private readonly recorder: Recorder | null = null,
  ) {
    this.store = openStore(config, metrics, log, recorder);
  }

  request(requestId: RequestId, request: StoreRequest): void {
    const started = performance.now();
    const done = this.store.request(request).then(
      (reply) => {
        this.metrics.storeLatency.observe(
          { op: request.op, outcome: reply.op === 'rejected' ? 'rejected' : 'ok' },
          (performance.now() - started) / 1000,
        );
        this.recorder?.storeAnswered(requestId, reply);
        this.feed({ role: 'dispatcher', input: { kind: 'store-reply', requestId, reply } });
      },
      (error: unknown) => {
        // No reply: the dispatcher's store timeout answers the publisher with a retry hint.
        this.metrics.storeLatency.observe(
          { op: request.op, outcome: 'error' },
          (performance.now() - started) / 1000,
        );
        this.log.debug('store request failed', { op: request.op, error: String(error) });
        this.recorder?.storeFailed(requestId, String(error));
      },
    );
    this.inFlight.track(done);
  }

  status(): 'up' | 'down' {
    return this.store.status();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

function openStore(
  config: ServeConfig,
  metrics: Metrics,
  log: Logger,
  recorder: Recorder | null,
): SubscriptionStorePort {
  const onLease: LeaseListener = (change) => {
    recorder?.lease(change);
    metrics.leases.inc({ change: change.change });
    log.debug('lease', { ...change });
  };
  // Appends are counted from their answers by the host loop; trims happen inside the store, so
  // only it can tell them.
  const onHistory: HistoryListener = (change) => {
    recorder?.history(change);
    if (change.kind !== 'trimmed') return;
    metrics.historyTrims.inc();
    log.debug('history trimmed', { topic: change.topic, epoch: change.epoch, throughSeq: change.throughSeq });
  };
  if (config.store === 'memory') return new MemoryStore({}, onLease, onHistory);
  return new RedisStore({
    url: config.store,
    prefix: config.redisPrefix,
    onLease,
    onHistory,
    // The first verdict (at start) and every change: an operator sees a dead store at once.
    onStatus: (status, error) => {
      if (status === 'up') log.info('store up', { store: redactUrl(config.store) });
      else {
        log.warn('store down: publishes fail with 503 until it is back', {
          store: redactUrl(config.store),
          error: error?.message,
        });
      }
    },
  });
}

/** A store URL fit for logs: without its password. */
export function redactUrl(store: string): string {
  return store.replace(/\/\/[^@/]*@/, '//***@');
}
