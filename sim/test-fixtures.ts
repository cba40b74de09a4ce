/** Small scenarios for tests and property runs: two datacenters, a few nodes, a few hundred viewers. */
import type { DeliveryMode, Event } from '../core/index.ts';
import { stampOf, type Fact, type MessageFacts } from './facts.ts';
import { parseScenario } from './scenario-parse.ts';
import { nodeIds, type Fault, type Scenario } from './scenario.ts';

export interface SmallScenarioOptions {
  name?: string;
  mode?: DeliveryMode;
  durationMs?: number;
  faults?: Fault[];
  viewers?: number;
  publishesPerSecond?: number;
  datacenters?: number;
  frontends?: number;
  dispatchers?: number;
  lossPerMillion?: number;
  duplicatePerMillion?: number;
  churnPerViewerPerMinute?: number;
  rejoinAfterMs?: number;
  randomFaults?: Scenario['randomFaults'];
}

export function smallScenario(options: SmallScenarioOptions = {}): Scenario {
  const dcs = Array.from({ length: options.datacenters ?? 2 }, (_, i) => ({
    name: `dc-${String.fromCharCode(97 + i)}`,
    frontends: options.frontends ?? 2,
    dispatchers: options.dispatchers ?? 2,
  }));
  const link = (baseUs: number, jitterUs: number): unknown => ({
    latency: { baseUs, jitterUs },
    lossPerMillion: options.lossPerMillion ?? 0,
    duplicatePerMillion: options.duplicatePerMillion ?? 0,
    fifo: false,
  });
  return parseScenario(
    {
      name: options.name ?? 'small',
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      durationMs: options.durationMs ?? 10_000,
      deliveryDeadlineMs: 2_000,
      subscribeGraceMs: 1_000,
      topology: { datacenters: dcs },
      network: {
        client: { latency: { baseUs: 2_000, jitterUs: 1_000 } },
        intraDc: link(200, 100),
        crossDc: link(20_000, 5_000),
      },
      workload: {
        topics: [
          {
            name: 'live',
            viewers: options.viewers ?? 60,
            publishesPerSecond: options.publishesPerSecond ?? 10,
          },
          { name: 'chat', viewers: Math.ceil((options.viewers ?? 60) / 3), publishesPerSecond: 2 },
        ],
        joinOverMs: 500,
        publishFromMs: 1_500,
        churnPerViewerPerMinute: options.churnPerViewerPerMinute ?? 0,
        rejoinAfterMs: options.rejoinAfterMs ?? 1_000,
        reconnectBackoffMs: { min: 50, max: 500 },
        payloadBytes: 48,
      },
      faults: options.faults ?? [],
      randomFaults: options.randomFaults ?? null,
    },
    'small scenario',
  );
}

/**
 * The scenario every planted bug is run on by scripts/trace-baseline.ts and the trace tests: a
 * frontend death and a partition, with churn, loss and duplication; and a frontend down for longer
 * than a lease while publishing goes on, so a lapsed lease is there to be looked up (watchers'
 * renewals every interval keep the first death's lease alive until publishing stops).
 */
export function plantedBugScenario(): Scenario {
  return smallScenario({
    name: 'planted',
    durationMs: 8_000,
    churnPerViewerPerMinute: 6,
    lossPerMillion: 2_000,
    duplicatePerMillion: 5_000,
    faults: [
      { kind: 'kill', atMs: 3_000, node: 'dc-a/frontend-1', restartAfterMs: 1_000 },
      { kind: 'partition', atMs: 4_000, between: ['dc-a', 'dc-b'], repairAfterMs: 1_500 },
      { kind: 'kill', atMs: 2_000, node: 'dc-b/frontend-2', restartAfterMs: 6_000 },
    ],
  });
}

/**
 * A stream of facts with one of every kind reliable mode adds, and the positions it adds to
 * fan-outs, batches and joins, in an order a trace can hold: connections open before they join, a
 * gap names a connection that is not (or no longer) subscribed. Not a run: the facts are written by
 * hand, for the trace's round trip.
 */
export function reliableFactsFixture(): Fact[] {
  const scenario = smallScenario({ name: 'reliable-facts', mode: 'reliable', durationMs: 1_000 });
  const node = 'dc-a/frontend-1';
  const topic = 'live';
  const event: Event = { id: 'dc-a-1', topic, origin: 'dc-a', publishedAtMs: 0, payload: 'like' };
  const e = event.id;
  const at = (c: number, viewer: number) => ({ c, id: `${node}#${c}`, node, viewer });
  const dispatcher = 'dc-a/dispatcher-1';
  const deliver = {
    from: dispatcher,
    to: node,
    type: 'deliver',
    e,
    topic,
    deliveryId: 7,
    epoch: 1,
    seq: 1,
  } as const;
  const deliverAck = { m: 2, from: node, to: dispatcher, type: 'deliver-ack', e, deliveryId: 7 } as const;
  const historyMessages: MessageFacts[] = [
    { m: 3, from: node, to: dispatcher, type: 'history-read', topic, historyAfter: { seq: 1 } },
    {
      m: 4,
      from: dispatcher,
      to: node,
      type: 'history-reply',
      topic,
      historyAnswer: { ok: true, epoch: 1, afterSeq: 1, firstSeq: 4, headSeq: 5, n: 2, fromSeq: 4, toSeq: 5 },
    },
    { m: 5, from: node, to: dispatcher, type: 'history-read', topic, historyAfter: { eventId: e } },
    {
      m: 6,
      from: dispatcher,
      to: node,
      type: 'history-reply',
      topic,
      historyAnswer: { ok: false, message: 'the store of dc-a did not answer in 100 ms' },
    },
  ];
  return [
    { kind: 'run', t: 0, scenario, seed: '1', nodes: nodeIds(scenario), faults: [] },
    { kind: 'connection', op: 'opened', t: 10, ...at(0, 0) },
    { kind: 'connection', op: 'joined', t: 11, ...at(0, 0), topic, epoch: 1, seq: 0 },
    { kind: 'connection', op: 'opened', t: 12, ...at(1, 1) },
    { kind: 'connection', op: 'joined', t: 13, ...at(1, 1), topic },
    { kind: 'connection', op: 'opened', t: 14, ...at(2, 2), resumes: [topic] },
    { kind: 'published', t: 20, node: 'dc-a/dispatcher-1', event: stampOf(event), origin: 'dc-a', bytes: 4 },
    { kind: 'appended', t: 21, dc: 'dc-a', e, topic, epoch: 1, seq: 1, dup: false },
    { kind: 'appended', t: 22, dc: 'dc-a', e, topic, epoch: 1, seq: 1, dup: true },
    { kind: 'answered', t: 23, dc: 'dc-a', ok: false, e, code: 'store-unavailable' },
    { kind: 'answered', t: 23, dc: 'dc-b', ok: false, code: 'overloaded' },
    { kind: 'answered', t: 24, dc: 'dc-a', ok: true, e, warning: 'forward-pending' },
    { kind: 'answered', t: 24, dc: 'dc-a', ok: true, e },
    { kind: 'fanned-out', t: 25, node, e, topic, connections: [1, 0], epoch: 1, seq: 1 },
    // A delivery, its ack (named by the delivery it acknowledges), and history reads and answers.
    { kind: 'sent', t: 26, message: { ...deliver, m: 1 }, copies: 1 },
    { kind: 'received', t: 26, message: { ...deliver, m: 1 } },
    { kind: 'sent', t: 26, message: deliverAck, copies: 1 },
    { kind: 'dropped', t: 27, message: deliverAck, why: 'loss' },
    ...historyMessages.flatMap((message): Fact[] => [
      { kind: 'sent', t: 27, message, copies: 1 },
      { kind: 'received', t: 27, message },
    ]),
    { kind: 'batch-received', t: 30, node, event: stampOf(event), connections: [0, 1], epoch: 1, seq: 1 },
    { kind: 'appended', t: 31, dc: 'dc-b', e, topic, epoch: 3, seq: 7, dup: false },
    { kind: 'trimmed', t: 40, dc: 'dc-a', topic, epoch: 1, seq: 1 },
    { kind: 'gap', t: 41, node, topic, connections: [0], epoch: 1, from: 2, to: 5, why: 'trimmed' },
    { kind: 'gap', t: 42, node, topic, connections: [2], epoch: 1, from: 1, to: null, why: 'unknown-cursor' },
    { kind: 'connection', op: 'joined', t: 43, ...at(2, 2), topic, epoch: 2, seq: 0, resumed: true },
    { kind: 'gap', t: 44, node, topic, connections: [0, 1, 2], epoch: 1, from: 6, to: null, why: 'epoch' },
    { kind: 'gap', t: 45, node, topic, connections: [1], epoch: 1, from: 3, to: 3, why: 'duplicate', e },
    { kind: 'connection', op: 'left', t: 50, ...at(0, 0), topic },
    { kind: 'connection', op: 'closed', t: 51, ...at(0, 0) },
    { kind: 'end', t: 1_000, items: 0 },
  ];
}
