/**
 * Prometheus metrics, one registry per server (tests run several servers in one process). Names
 * start with `stadium_`. Gauges that mirror core state are read at scrape time, and every counter a
 * role keeps in its state appears as `stadium_core_events_total{role, name}`.
 *
 * Viewer counts: `stadium_topic_occupancy{topic}` is the count of the `topicOccupancyMax` most
 * watched topics this frontend knows (its latest lease replies), so a topic label never multiplies
 * the series past that bound however many topics there are.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counters, Occupancy } from '../core/index.ts';

/** Topics `stadium_topic_occupancy` exports: the most watched ones, by count. */
export const topicOccupancyMax = 20;

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
  /** Reliable mode: a frontend's history reads, by the answer it got (`ok`, `failed`). */
  readonly historyReads: Counter<'result'>;
  /** Reliable mode: deliveries a dispatcher sent again for want of a `deliver-ack`. */
  readonly deliveryRetries: Counter;
  /** Reliable mode: from a delivery's first send to its `deliver-ack`, on the dispatcher. */
  readonly deliverAckLatency: Histogram;
  /** Reliable mode: `forward-ack`s a dispatcher sent (its store appended a peer's forward) and received. */
  readonly forwardAcks: Counter<'direction'>;
  /** Reliable mode: gap notices written to viewers, by why (`trimmed`, `epoch`, `unknown-cursor`, `duplicate`). */
  readonly gapNotices: Counter<'why'>;
  /** Reliable mode: events the store appended (`new`) or held already (`duplicate`), seen by the dispatcher. */
  readonly historyAppends: Counter<'result'>;
  /** Reliable mode: history trims a store reported. */
  readonly historyTrims: Counter;
  /** Viewer counts written to connections that asked for them, by transport. */
  readonly occupancyUpdates: Counter<'transport'>;
  /** `GET /v1/topics/T/occupancy` answers, by result (`ok` or the error code). */
  readonly occupancyQueries: Counter<'result'>;
  /** Dispatchers' per-interval `occupancy` messages to and from peer datacenters. */
  readonly occupancyMessages: Counter<'direction'>;
}

export interface MetricSources {
  connections(): { sse: number; ws: number };
  subscriptions(): number;
  topics(): number;
  storeUp(): boolean | null;
  coreCounters(): { role: string; counters: Counters }[];
  /** The latest viewer count this node knows of each of its topics (frontends; none elsewhere). */
  topicOccupancy(): Iterable<Occupancy>;
}

/** The `limit` most watched of `all`, most first; a tie goes to the topic first in name order. */
export function mostWatched(all: Iterable<Occupancy>, limit: number): Occupancy[] {
  const top: Occupancy[] = [];
  const before = (a: Occupancy, b: Occupancy): boolean =>
    a.count > b.count || (a.count === b.count && a.topic < b.topic);
  // One pass, keeping at most `limit`: a frontend may hold tens of thousands of topics.
  for (const occupancy of all) {
    if (top.length === limit && !before(occupancy, top[limit - 1] as Occupancy)) continue;
    let at = top.length;
    while (at > 0 && before(occupancy, top[at - 1] as Occupancy)) at--;
    top.splice(at, 0, occupancy);
    if (top.length > limit) top.pop();
  }
  return top;
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
    name: 'stadium_topic_occupancy',
    help: `Viewers of the ${topicOccupancyMax} most watched topics this frontend knows, all datacenters (its latest lease replies)`,
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      // Topics that fell out of the top, or left, must not linger with their last value.
      this.reset();
      for (const { topic, count } of mostWatched(sources.topicOccupancy(), topicOccupancyMax))
        this.set({ topic }, count);
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
    historyReads: new Counter({
      name: 'stadium_history_reads_total',
      help: 'Reliable mode: history reads by this frontend, by the answer (ok, failed)',
      labelNames: ['result'],
      registers: [registry],
    }),
    deliveryRetries: new Counter({
      name: 'stadium_delivery_retries_total',
      help: 'Reliable mode: deliveries to frontends sent again for want of an ack',
      registers: [registry],
    }),
    deliverAckLatency: new Histogram({
      name: 'stadium_deliver_ack_seconds',
      help: "Reliable mode: from a delivery's first send to the frontend's ack",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    forwardAcks: new Counter({
      name: 'stadium_forward_acks_total',
      help: 'Reliable mode: forward acks sent to (a peer forward appended here) and received from peer datacenters',
      labelNames: ['direction'],
      registers: [registry],
    }),
    gapNotices: new Counter({
      name: 'stadium_gap_notices_total',
      help: 'Reliable mode: gap notices written to viewers, by why',
      labelNames: ['why'],
      registers: [registry],
    }),
    historyAppends: new Counter({
      name: 'stadium_history_appends_total',
      help: 'Reliable mode: events appended to the history (new) or found there already (duplicate)',
      labelNames: ['result'],
      registers: [registry],
    }),
    historyTrims: new Counter({
      name: 'stadium_history_trims_total',
      help: 'Reliable mode: history trims a store reported',
      registers: [registry],
    }),
    occupancyUpdates: new Counter({
      name: 'stadium_occupancy_updates_total',
      help: 'Viewer counts written to connections that asked for them, by transport',
      labelNames: ['transport'],
      registers: [registry],
    }),
    occupancyQueries: new Counter({
      name: 'stadium_occupancy_queries_total',
      help: 'GET /v1/topics/T/occupancy answers, by result (ok or the error code)',
      labelNames: ['result'],
      registers: [registry],
    }),
    occupancyMessages: new Counter({
      name: 'stadium_occupancy_messages_total',
      help: "Dispatchers' per-interval occupancy messages to (sent) and from (received) peer datacenters",
      labelNames: ['direction'],
      registers: [registry],
    }),
  };
}
