/**
 * A small deterministic world that writes traces in the simulator's format, so replay can be
 * built, tested and benchmarked before (and independently of) the simulator.
 *
 * It is a toy discrete-event simulation, not the simulator: viewers connect and subscribe, their
 * frontends take leases in their datacenter's store and renew them, dispatchers look topics up,
 * fan out to frontends and forward to one dispatcher per peer datacenter. Two faults are scheduled:
 * the kill and restart of `<first dc>/frontend-1` (its viewers reconnect to frontend-2) and a
 * symmetric partition between the first two datacenters. Drops name their cause and fault, losses
 * are reported at the delivery deadline, and two planted bugs give two violations: an unexplained
 * loss (a frontend that swallows an event) and a duplicate delivery.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Fault, TraceNode, TraceRecord, Violation } from './records.ts';

export interface FixtureOptions {
  datacenters?: string[];
  frontends?: number;
  dispatchers?: number;
  viewers?: number;
  topics?: string[];
  publishes?: number;
  publishEveryUs?: number;
  seed?: number;
  /** Plant the two bugs (an unexplained loss and a duplicate delivery) and their violations. */
  bugs?: boolean;
  /** Schedule the kill and the partition. */
  faults?: boolean;
}

export interface FixtureFacts {
  records: number;
  endT: number;
  /** The events the planted bugs hit: [unexplained loss, duplicate]. */
  buggyEvents: string[];
  killed: string;
  partitioned: [string, string];
  faultTimes: { kill: [number, number]; partition: [number, number] };
}

/** mulberry32: a tiny seeded generator, enough for a fixture. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Action {
  t: number;
  seq: number;
  run: () => void;
}

/** A binary heap of actions ordered by (time, insertion sequence). */
class Agenda {
  private readonly heap: Action[] = [];
  private seq = 0;
  push(t: number, run: () => void): void {
    const heap = this.heap;
    heap.push({ t, seq: this.seq++, run });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }
  pop(): Action | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = i * 2 + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
  private less(a: Action, b: Action): boolean {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }
}

/** Generate the fixture's records in trace order, handing each to `emit`. */
export function fixtureRecords(options: FixtureOptions, emit: (record: TraceRecord) => void): FixtureFacts {
  const dcs = options.datacenters ?? ['dc-a', 'dc-b', 'dc-c'];
  const frontendsPerDc = options.frontends ?? 2;
  const dispatchersPerDc = options.dispatchers ?? 2;
  const viewers = options.viewers ?? 24;
  const topics = options.topics ?? ['likes-1', 'likes-2'];
  const publishes = options.publishes ?? 40;
  const publishEveryUs = options.publishEveryUs ?? 5000;
  const bugs = options.bugs ?? true;
  const withFaults = options.faults ?? true;
  const draw = random(options.seed ?? 1);
  const leaseUs = 60_000;
  const renewEveryUs = 20_000;
  const deadlineUs = 100_000;
  const joinUs = 10_000;
  const publishFrom = joinUs + 10_000;
  const publishEnd = publishFrom + publishes * publishEveryUs;
  const endT = publishEnd + deadlineUs + 10_000;
  const span = publishEnd - publishFrom;
  const killed = `${dcs[0]}/frontend-1`;
  const killAt = publishFrom + Math.round(span * 0.25);
  const restartAt = killAt + Math.round(span * 0.2);
  const partitioned: [string, string] = [dcs[0]!, dcs[1]!];
  const partitionAt = publishFrom + Math.round(span * 0.55);
  const repairAt = partitionAt + Math.round(span * 0.2);
  const lostEvent = `ev-${Math.floor(publishes * 0.1)}`;
  const duplicateEvent = `ev-${Math.floor(publishes * 0.85)}`;

  const nodes: TraceNode[] = [];
  for (const dc of dcs) {
    for (let i = 1; i <= frontendsPerDc; i++) nodes.push({ id: `${dc}/frontend-${i}`, dc, role: 'frontend' });
    for (let i = 1; i <= dispatchersPerDc; i++)
      nodes.push({ id: `${dc}/dispatcher-${i}`, dc, role: 'dispatcher' });
    nodes.push({ id: `${dc}/store`, dc, role: 'store' });
  }
  const dcOf = (node: string): string => node.slice(0, node.indexOf('/'));
  const frontendsOf = (dc: string): string[] =>
    Array.from({ length: frontendsPerDc }, (_, i) => `${dc}/frontend-${i + 1}`);

  const agenda = new Agenda();
  let now = 0;
  let records = 0;
  let published = 0;
  let delivered = 0;
  let explained = 0;
  let unexplained = 0;
  const allViolations: Violation[] = [];
  const out = (record: TraceRecord): void => {
    records++;
    if (record.k === 'publish') published++;
    if (record.k === 'deliver') delivered += record.n;
    if (record.k === 'loss') {
      if (record.explained) explained += record.n;
      else unexplained += record.n;
    }
    if (record.k === 'violation') allViolations.push(record.violation);
    emit(record);
  };
  const dead = new Set<string>();
  let partitionOn = false;
  const subs = new Map<string, Map<string, Set<string>>>(); // frontend -> topic -> connections
  const leases = new Map<string, Map<string, number>>(); // dc -> `topic|fe` -> expiry
  let m = 0;
  const intra = (): number => 100 + Math.floor(draw() * 200);
  const cross = (): number => 20_000 + Math.floor(draw() * 20_000);
  const client = (): number => 1000 + Math.floor(draw() * 2000);

  /** A message: a `send` now, then its `recv` (and `then`) or its `drop` after the latency. */
  const message = (
    from: string,
    to: string,
    type: 'deliver' | 'forward' | 'store-request' | 'store-reply' | 'subscribe' | 'lease-reply' | 'publish',
    e: string | undefined,
    topic: string | undefined,
    then: () => void,
    onDrop?: (why: 'partition' | 'target-dead' | 'loss', f?: number) => void,
  ): void => {
    const id = ++m;
    const send: TraceRecord = { k: 'send', t: now, m: id, from, to, type };
    if (e !== undefined) send.e = e;
    if (topic !== undefined) send.topic = topic;
    out(send);
    const crossing = dcOf(from) !== dcOf(to);
    const blocked =
      crossing && partitionOn && partitioned.includes(dcOf(from)) && partitioned.includes(dcOf(to));
    const lost = type === 'deliver' && draw() < 0.004;
    agenda.push(now + (crossing ? cross() : intra()), () => {
      if (blocked) {
        out({ k: 'drop', t: now, m: id, why: 'partition', f: 2 });
        onDrop?.('partition', 2);
      } else if (dead.has(to)) {
        out({ k: 'drop', t: now, m: id, why: 'target-dead', f: 1 });
        onDrop?.('target-dead', 1);
      } else if (lost) {
        out({ k: 'drop', t: now, m: id, why: 'loss' });
        onDrop?.('loss');
      } else {
        out({ k: 'recv', t: now, m: id });
        then();
      }
    });
  };

  const leaseTable = (dc: string): Map<string, number> => {
    let table = leases.get(dc);
    if (!table) leases.set(dc, (table = new Map()));
    return table;
  };

  const expireCheck = (dc: string, topic: string, fe: string, exp: number): void => {
    agenda.push(exp, () => {
      const table = leaseTable(dc);
      if (table.get(`${topic}|${fe}`) !== exp) return;
      table.delete(`${topic}|${fe}`);
      out({ k: 'lease', t: now, dc, topic, fe, change: 'expired' });
    });
  };

  const register = (fe: string, topic: string): void => {
    const dc = dcOf(fe);
    message(fe, `${dc}/dispatcher-1`, 'subscribe', undefined, topic, () => {
      message(`${dc}/dispatcher-1`, `${dc}/store`, 'store-request', undefined, topic, () => {
        const exp = now + leaseUs;
        leaseTable(dc).set(`${topic}|${fe}`, exp);
        out({ k: 'lease', t: now, dc, topic, fe, change: 'granted', exp });
        expireCheck(dc, topic, fe, exp);
        message(`${dc}/store`, `${dc}/dispatcher-1`, 'store-reply', undefined, topic, () => {
          message(`${dc}/dispatcher-1`, fe, 'lease-reply', undefined, topic, () => {});
        });
      });
    });
  };

  const subscribe = (c: string, v: number, fe: string, topic: string): void => {
    out({ k: 'conn', t: now, c, node: fe, v, op: 'open' });
    out({ k: 'conn', t: now, c, node: fe, v, op: 'sub', topic });
    let table = subs.get(fe);
    if (!table) subs.set(fe, (table = new Map()));
    let set = table.get(topic);
    const first = !set || set.size === 0;
    if (!set) table.set(topic, (set = new Set()));
    set.add(c);
    if (first) register(fe, topic);
  };

  const renew = (fe: string): void => {
    agenda.push(now + renewEveryUs, () => {
      if (now > endT) return;
      if (!dead.has(fe)) {
        const dc = dcOf(fe);
        for (const [topic, set] of subs.get(fe) ?? []) {
          if (set.size === 0) continue;
          const exp = now + leaseUs;
          leaseTable(dc).set(`${topic}|${fe}`, exp);
          out({ k: 'lease', t: now, dc, topic, fe, change: 'renewed', exp });
          expireCheck(dc, topic, fe, exp);
        }
      }
      renew(fe);
    });
  };

  /** Per event: frontend -> what was lost there, reported at the deadline. */
  const losses = new Map<string, Map<string, { n: number; cause: string; explained: boolean; f?: number }>>();
  const lose = (e: string, fe: string, cause: string, explained: boolean, f?: number): void => {
    const n = subs.get(fe)?.get(topicOf.get(e)!)?.size ?? 0;
    if (n === 0) return;
    let table = losses.get(e);
    if (!table) losses.set(e, (table = new Map()));
    table.set(fe, f === undefined ? { n, cause, explained } : { n, cause, explained, f });
  };
  const topicOf = new Map<string, string>();
  const violations: Violation[] = [];

  const fanOut = (dispatcher: string, e: string, topic: string, forward: boolean): void => {
    const dc = dcOf(dispatcher);
    message(dispatcher, `${dc}/store`, 'store-request', e, topic, () => {
      const found = [...leaseTable(dc).keys()]
        .filter((key) => key.startsWith(`${topic}|`))
        .map((key) => key.slice(topic.length + 1));
      message(`${dc}/store`, dispatcher, 'store-reply', e, topic, () => {
        if (found.length === 0)
          out({ k: 'role-drop', t: now, node: dispatcher, why: 'no-viewers', e, topic });
        for (const fe of found) {
          message(
            dispatcher,
            fe,
            'deliver',
            e,
            topic,
            () => {
              const n = subs.get(fe)?.get(topic)?.size ?? 0;
              if (n === 0) return;
              if (bugs && forward && e === lostEvent && fe === found[0]) {
                lose(e, fe, 'no fault on the path: the frontend received the event and sent nothing', false);
                return;
              }
              agenda.push(now + client(), () => {
                const count = subs.get(fe)?.get(topic)?.size ?? 0;
                if (dead.has(fe)) {
                  out({ k: 'client-drop', t: now, node: fe, e, n, why: 'source-dead' });
                  return;
                }
                if (count > 0) out({ k: 'deliver', t: now, node: fe, e, topic, n: count });
                if (bugs && forward && e === duplicateEvent && fe === found[0] && count > 0) {
                  const c = [...subs.get(fe)!.get(topic)!][0]!;
                  out({ k: 'deliver', t: now, node: fe, e, topic, n: 1, c: [c] });
                  violations.push({
                    invariant: 'no-duplicates',
                    t: now,
                    message: `connection ${c} received ${e} twice`,
                    e,
                    connection: c,
                    node: fe,
                    chain: [
                      `${e} published on ${topic} in ${dcOf(dispatcher)}`,
                      `${dispatcher} looked ${topic} up in ${dc}/store and sent to ${fe}`,
                      `${fe} delivered ${e} to ${c}`,
                      `${fe} delivered ${e} to ${c} again: duplicate`,
                    ],
                  });
                }
              });
            },
            (why, f) => lose(e, fe, why === 'partition' ? 'partition' : why, true, f),
          );
        }
        if (!forward) return;
        for (const peer of dcs) {
          if (peer === dc) continue;
          message(
            dispatcher,
            `${peer}/dispatcher-1`,
            'forward',
            e,
            topic,
            () => fanOut(`${peer}/dispatcher-1`, e, topic, false),
            (why, f) => {
              for (const fe of frontendsOf(peer)) lose(e, fe, `forward to ${peer} dropped: ${why}`, true, f);
            },
          );
        }
      });
    });
  };

  // The run record, then the world's schedule.
  out({
    k: 'run',
    t: 0,
    version: 1,
    scenario: { name: 'fixture', durationMs: Math.ceil(endT / 1000), deliveryDeadlineMs: deadlineUs / 1000 },
    seed: String(options.seed ?? 1),
    nodes,
  });
  const homes = new Map<number, { fe: string; topic: string; c: string }>();
  for (let v = 0; v < viewers; v++) {
    const dc = dcs[v % dcs.length]!;
    const fe = `${dc}/frontend-${(Math.floor(v / dcs.length) % frontendsPerDc) + 1}`;
    const topic = topics[v % topics.length]!;
    agenda.push(Math.floor(draw() * joinUs), () => {
      const c = `c-${v}`;
      homes.set(v, { fe, topic, c });
      subscribe(c, v, fe, topic);
    });
  }
  for (const node of nodes) if (node.role === 'frontend') agenda.push(joinUs, () => renew(node.id));
  for (let i = 0; i < publishes; i++) {
    agenda.push(publishFrom + i * publishEveryUs, () => {
      const e = `ev-${i}`;
      const topic = topics[i % topics.length]!;
      const origin = dcs[i % dcs.length]!;
      const dispatcher = `${origin}/dispatcher-${(Math.floor(i / dcs.length) % dispatchersPerDc) + 1}`;
      topicOf.set(e, topic);
      out({ k: 'publish', t: now, e, topic, origin, node: dispatcher, bytes: 64 });
      fanOut(dispatcher, e, topic, true);
      agenda.push(now + deadlineUs, () => {
        for (const [fe, loss] of losses.get(e) ?? []) {
          const record: TraceRecord = {
            k: 'loss',
            t: now,
            e,
            node: fe,
            n: loss.n,
            explained: loss.explained,
            cause: loss.cause,
          };
          if (loss.f !== undefined) record.f = loss.f;
          out(record);
          if (!loss.explained) {
            const violation: Violation = {
              invariant: 'explained-loss',
              t: now,
              message: `${loss.n} deliveries of ${e} at ${fe} lost with no fault on the path`,
              e,
              node: fe,
              chain: [
                `${e} published on ${topic} at ${dispatcher}`,
                `${dispatcher} looked ${topic} up in ${origin}/store`,
                `${dispatcher} sent ${e} to ${fe}; it arrived`,
                `${fe} delivered to nobody: ${loss.n} subscribed connections missed ${e}`,
                'no node was down, no partition, no drop on this path',
              ],
            };
            out({ k: 'violation', t: now, violation });
          }
        }
        losses.delete(e);
        for (const violation of violations.filter((v) => v.e === e))
          out({ k: 'violation', t: now, violation });
      });
    });
  }
  if (withFaults) {
    const kill: Fault = {
      kind: 'kill',
      atMs: killAt / 1000,
      node: killed,
      restartAfterMs: (restartAt - killAt) / 1000,
    };
    agenda.push(killAt, () => {
      out({ k: 'fault', t: now, f: 1, phase: 'start', fault: kill });
      out({ k: 'node', t: now, node: killed, op: 'down' });
      dead.add(killed);
      // Its viewers lose their connections and come back on frontend-2 after a backoff.
      const stranded = [...(subs.get(killed) ?? new Map<string, Set<string>>())].flatMap(([topic, set]) =>
        [...set].map((c) => ({ topic, c })),
      );
      subs.set(killed, new Map());
      for (const { topic, c } of stranded) {
        const v = Number(c.slice(2).split('.')[0]);
        agenda.push(now + 5000 + Math.floor(draw() * 10_000), () =>
          subscribe(`${c.split('.')[0]}.1`, v, `${dcOf(killed)}/frontend-2`, topic),
        );
      }
    });
    agenda.push(restartAt, () => {
      out({ k: 'fault', t: now, f: 1, phase: 'end', fault: kill });
      out({ k: 'node', t: now, node: killed, op: 'up' });
      dead.delete(killed);
    });
    const partition: Fault = {
      kind: 'partition',
      atMs: partitionAt / 1000,
      between: partitioned,
      repairAfterMs: (repairAt - partitionAt) / 1000,
    };
    agenda.push(partitionAt, () => {
      out({ k: 'fault', t: now, f: 2, phase: 'start', fault: partition });
      partitionOn = true;
    });
    agenda.push(repairAt, () => {
      out({ k: 'fault', t: now, f: 2, phase: 'end', fault: partition });
      partitionOn = false;
    });
  }
  for (let action = agenda.pop(); action && action.t <= endT; action = agenda.pop()) {
    now = action.t;
    action.run();
  }
  now = endT;
  out({
    k: 'end',
    t: endT,
    report: {
      scenario: 'fixture',
      seed: String(options.seed ?? 1),
      published,
      delivered,
      lost: { explained, unexplained },
      duplicates: allViolations.filter((v) => v.invariant === 'no-duplicates').length,
      violations: allViolations,
    },
  });
  return {
    records,
    endT,
    buggyEvents: bugs ? [lostEvent, duplicateEvent] : [],
    killed,
    partitioned,
    faultTimes: { kill: [killAt, restartAt], partition: [partitionAt, repairAt] },
  };
}

/** Write a fixture trace to `path`, buffering writes; returns what the tests need to know about it. */
export function writeFixtureTrace(path: string, options: FixtureOptions = {}): FixtureFacts {
  const fd = openSync(path, 'w');
  let buffer: string[] = [];
  let size = 0;
  const flush = (): void => {
    writeSync(fd, buffer.join(''));
    buffer = [];
    size = 0;
  };
  try {
    const facts = fixtureRecords(options, (record) => {
      const line = `${JSON.stringify(record)}\n`;
      buffer.push(line);
      size += line.length;
      if (size > 1 << 20) flush();
    });
    flush();
    return facts;
  } finally {
    closeSync(fd);
  }
}
