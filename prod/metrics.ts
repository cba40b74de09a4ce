/**
 * Prometheus metrics, one registry per server (tests run several servers in one process). Names
 * start with `stadium_`. Gauges that mirror core state are read at scrape time, and every counter a
 * role keeps in its state appears as `stadium_core_events_total{role, name}`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counters } from '../core/index.ts';

export interface Metrics {
  readonly registry: Registry;
  readonly publishes: Counter<'result'>;
  readonly deliveries: Counter<'transport'>;
  readonly drops: Counter<'reason'>;
  readonly leases: Counter<'change'>;
  readonly storeLatency: Histogram<'op' | 'outcome'>;
  readonly backpressure: Counter<'transport' | 'action'>;
  readonly internalSends: Counter<'outcome'>;
  readonly httpErrors: Counter<'code'>;
}

export interface MetricSources {
  connections(): { sse: number; ws: number };
  subscriptions(): number;
  topics(): number;
  storeUp(): boolean | null;
  coreCounters(): { role: string; counters: Counters }[];
}

export function createMetrics(sources: MetricSources, labels: Record<string, string>): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: 'stadium_process_' });
  new Gauge({
    name: 'stadium_connections',
    help: 'Open client connections',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      const { sse, ws } = sources.connections();
      this.set({ transport: 'sse' }, sse);
      this.set({ transport: 'ws' }, ws);
    },
  });
  new Gauge({
    name: 'stadium_subscriptions',
    help: 'Connection-topic pairs on this frontend',
    registers: [registry],
    collect() {
      this.set(sources.subscriptions());
    },
  });
  new Gauge({
    name: 'stadium_topics',
    help: 'Topics with local viewers on this frontend',
    registers: [registry],
    collect() {
      this.set(sources.topics());
    },
  });
  new Gauge({
    name: 'stadium_store_up',
    help: '1 when the subscription store answers, 0 when it does not (dispatchers only)',
    registers: [registry],
    collect() {
      const up = sources.storeUp();
      if (up !== null) this.set(up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'stadium_core_events_total',
    help: 'Counters kept by the pure core roles, by role and name',
    labelNames: ['role', 'name'],
    registers: [registry],
    collect() {
      for (const { role, counters } of sources.coreCounters()) {
        for (const [name, value] of Object.entries(counters)) this.set({ role, name }, value);
      }
    },
  });
  return {
    registry,
    publishes: new Counter({
      name: 'stadium_events_published_total',
      help: 'Publishes answered by this dispatcher (HTTP, WebSocket or forwarded by a frontend), by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'stadium_events_delivered_total',
      help: 'Events written to client connections',
      labelNames: ['transport'],
      registers: [registry],
    }),
    drops: new Counter({
      name: 'stadium_drops_total',
      help: 'Things a role gave up on, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    leases: new Counter({
      name: 'stadium_lease_changes_total',
      help: 'Lease changes in the subscription store, seen by this dispatcher',
      labelNames: ['change'],
      registers: [registry],
    }),
    storeLatency: new Histogram({
      name: 'stadium_store_request_seconds',
      help: 'Subscription store request latency',
      labelNames: ['op', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    backpressure: new Counter({
      name: 'stadium_backpressure_total',
      help: 'Slow clients past the buffered-bytes limit: connections closed or events dropped',
      labelNames: ['transport', 'action'],
      registers: [registry],
    }),
    internalSends: new Counter({
      name: 'stadium_internal_sends_total',
      help: 'Node-to-node messages sent over HTTP, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    httpErrors: new Counter({
      name: 'stadium_http_errors_total',
      help: 'Error replies to clients and publishers, by code',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}
