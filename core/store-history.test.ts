// Goal: a store's per-topic histories keep the rules their file opens with: seqs 1..n per topic,
// idempotent appends by id, count and age bounds that trim the oldest and say so, reads that show
// a reader its gaps, a bounded number of topics; and the store node reports appends and trims.
// Method: drive the pure functions at chosen times, one rule per test; a model of the rules over
// generated appends, reads and sweeps; then the store node through `apply` and `handle`.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  appendEvent,
  defaultHistoryLimits,
  headsOf,
  readHistory,
  sweepHistories,
  type Histories,
  type HistoryLimits,
  type Trim,
} from './store-history.ts';
import { apply, createStore, deadline, handle } from './subscription-store.ts';
import type { Effect, Event, HistoryAfter, Ms, StoreRequest } from './types.ts';

const event = (topic: string, id: string): Event => ({
  id,
  topic,
  origin: 'dc-a',
  publishedAtMs: 0,
  payload: `payload of ${id}`,
});

/** A history under `limits`, with one-line append, read and sweep. */
function histories(limits: Partial<HistoryLimits> = {}) {
  const held: Histories = new Map();
  const all: HistoryLimits = { ...defaultHistoryLimits, ...limits };
  const counters: Record<string, number> = {};
  return {
    held,
    counters,
    append: (topic: string, id: string, now: Ms = 0) =>
      appendEvent(held, all, event(topic, id), now, counters),
    read: (topic: string, after: HistoryAfter, limit = 100, now: Ms = 0) =>
      readHistory(held, all, topic, after, limit, now, counters),
    sweep: (now: Ms) => sweepHistories(held, all, now),
  };
}

const seqsOf = (read: { events: { seq: number }[] }): number[] => read.events.map((e) => e.seq);

describe('store histories: seqs', () => {
  it('each topic counts 1, 2, 3... on its own, whatever the other topics do', () => {
    const h = histories();
    const got = ['a', 'b', 'a', 'a', 'c', 'b', 'a'].map((topic, i) => {
      const result = h.append(topic, `e${i}`);
      return `${topic}${result.kind === 'appended' ? result.seq : result.kind}`;
    });
    expect(got).toEqual(['a1', 'b1', 'a2', 'a3', 'c1', 'b2', 'a4']);
    expect(seqsOf(h.read('a', { seq: 0 }))).toEqual([1, 2, 3, 4]);
    expect(seqsOf(h.read('b', { seq: 0 }))).toEqual([1, 2]);
  });

  it('the same id in two topics is two events, one in each', () => {
    const h = histories();
    expect(h.append('a', 'same')).toMatchObject({ seq: 1, duplicate: false });
    expect(h.append('b', 'same')).toMatchObject({ seq: 1, duplicate: false });
    expect(h.append('a', 'other')).toMatchObject({ seq: 2, duplicate: false });
  });
});

describe('store histories: idempotent appends', () => {
  it('a retried append answers the seq it got and duplicate:true, also after newer appends', () => {
    const h = histories();
    expect(h.append('a', 'x', 0)).toEqual({ kind: 'appended', seq: 1, duplicate: false, trims: [] });
    expect(h.append('a', 'x', 1)).toEqual({ kind: 'appended', seq: 1, duplicate: true, trims: [] });
    h.append('a', 'y', 2);
    h.append('a', 'z', 3);
    expect(h.append('a', 'x', 4)).toMatchObject({ seq: 1, duplicate: true });
    expect(h.read('a', { seq: 0 }).headSeq).toBe(3);
    expect(h.counters).toMatchObject({ appends: 3, 'appends-duplicate': 2 });
  });

  it('after the count bound trimmed its event, a retry still gets its seq while the id is remembered', () => {
    const h = histories({ historyEventsMax: 2, historyIdsMax: 3 });
    for (const id of ['x', 'y', 'z']) h.append('a', id);
    expect(h.read('a', { seq: 0 }).firstSeq).toBe(2);
    expect(h.append('a', 'x')).toMatchObject({ seq: 1, duplicate: true });
    // A fourth id pushes x out of the id bound too: from then on x is a new event.
    h.append('a', 'w');
    expect(h.append('a', 'x')).toMatchObject({ seq: 5, duplicate: false });
  });

  it('an id is forgotten historyAgeMs after its append: a retry later is a new event', () => {
    const h = histories({ historyAgeMs: 100 });
    h.append('a', 'x', 0);
    expect(h.append('a', 'x', 99)).toMatchObject({ seq: 1, duplicate: true });
    h.append('a', 'y', 99);
    expect(h.append('a', 'x', 100)).toMatchObject({ seq: 3, duplicate: false });
  });
});

describe('store histories: bounds', () => {
  it('the count bound trims the oldest event and reports the seq it trimmed through', () => {
    const h = histories({ historyEventsMax: 3 });
    for (const id of ['e1', 'e2', 'e3']) expect(h.append('a', id)).toMatchObject({ trims: [] });
    expect(h.append('a', 'e4')).toMatchObject({ seq: 4, trims: [{ topic: 'a', throughSeq: 1 }] });
    expect(h.append('a', 'e5')).toMatchObject({ seq: 5, trims: [{ topic: 'a', throughSeq: 2 }] });
    const read = h.read('a', { seq: 0 });
    expect(read).toMatchObject({ firstSeq: 3, headSeq: 5 });
    expect(seqsOf(read)).toEqual([3, 4, 5]);
  });

  it('the age bound trims at an append and a read of the topic, and at every sweep', () => {
    // Held while appendedAtMs > now - historyAgeMs: an event of time 0 is gone at 100.
    const h = histories({ historyAgeMs: 100 });
    h.append('a', 'e1', 0);
    h.append('a', 'e2', 10);
    h.append('a', 'e3', 20);
    h.append('a', 'e4', 30);
    // Another topic's append does not trim this one.
    expect(h.append('b', 'b1', 100)).toMatchObject({ kind: 'appended', trims: [] });
    expect(h.read('a', { seq: 0 }, 100, 100)).toMatchObject({
      firstSeq: 2,
      trims: [{ topic: 'a', throughSeq: 1 }],
    });
    expect(h.sweep(110).trims).toEqual([{ topic: 'a', throughSeq: 2 }]);
    expect(h.append('a', 'e5', 120)).toMatchObject({ seq: 5, trims: [{ topic: 'a', throughSeq: 3 }] });
    expect(seqsOf(h.read('a', { seq: 0 }, 100, 120))).toEqual([4, 5]);
  });

  it('historyTopicsMax refuses an append to one more topic, and only that', () => {
    const h = histories({ historyTopicsMax: 2 });
    h.append('a', 'e1');
    h.append('b', 'e2');
    expect(h.append('c', 'e3')).toEqual({
      kind: 'full',
      message: 'store holds histories of 2 topics (historyTopicsMax 2)',
    });
    expect(h.append('a', 'e4')).toMatchObject({ kind: 'appended', seq: 2 });
    expect(h.held.has('c')).toBe(false);
    expect(h.counters['appends-refused-full']).toBe(1);
  });

  it('the sweep trims by age but never forgets a head: an idle topic then appended to continues its seqs', () => {
    const h = histories({ historyAgeMs: 100 });
    h.append('a', 'e1', 0);
    h.append('b', 'e2', 50);
    expect(h.sweep(99)).toEqual({ trims: [], holding: true });
    expect(h.sweep(100)).toEqual({ trims: [{ topic: 'a', throughSeq: 1 }], holding: true });
    expect(h.sweep(150)).toEqual({ trims: [{ topic: 'b', throughSeq: 1 }], holding: false });
    expect([...h.held.keys()]).toEqual(['a', 'b']);
    // A seq given out again would pass for an old event at every frontend and cursor past it.
    expect(h.append('a', 'e3', 400)).toMatchObject({ kind: 'appended', seq: 2, duplicate: false });
  });
});

describe('store histories: reads', () => {
  it('a read after a seq answers the contiguous events after it, the oldest held and the head', () => {
    const h = histories();
    for (const id of ['e1', 'e2', 'e3', 'e4']) h.append('a', id);
    const read = h.read('a', { seq: 2 });
    expect(read).toMatchObject({ afterSeq: 2, firstSeq: 1, headSeq: 4, trims: [] });
    expect(read.events).toEqual([
      { seq: 3, event: event('a', 'e3') },
      { seq: 4, event: event('a', 'e4') },
    ]);
    expect(h.read('a', { seq: 4 }).events).toEqual([]);
  });

  it('a read after a seq no longer held starts at firstSeq, so the reader sees its gap', () => {
    const h = histories({ historyEventsMax: 3 });
    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']) h.append('a', id);
    const read = h.read('a', { seq: 1 });
    expect(read).toMatchObject({ afterSeq: 1, firstSeq: 4, headSeq: 6 });
    expect(seqsOf(read)).toEqual([4, 5, 6]);
  });

  it('a read after an event id starts after its seq; an id not remembered answers afterSeq null', () => {
    const h = histories({ historyEventsMax: 2, historyIdsMax: 4 });
    for (const id of ['e1', 'e2', 'e3', 'e4']) h.append('a', id);
    expect(h.read('a', { eventId: 'e3' })).toMatchObject({ afterSeq: 3, events: [{ seq: 4 }] });
    // e1 is trimmed but remembered: the read starts at firstSeq and the reader sees the gap.
    const trimmed = h.read('a', { eventId: 'e1' });
    expect(trimmed).toMatchObject({ afterSeq: 1, firstSeq: 3, headSeq: 4 });
    expect(seqsOf(trimmed)).toEqual([3, 4]);
    expect(h.read('a', { eventId: 'never' })).toMatchObject({
      afterSeq: null,
      firstSeq: 3,
      headSeq: 4,
      events: [],
    });
  });

  it('a read answers at most its limit and at most readEventsMax events, oldest first', () => {
    const h = histories({ readEventsMax: 3 });
    for (let i = 1; i <= 6; i++) h.append('a', `e${i}`);
    expect(seqsOf(h.read('a', { seq: 0 }, 2))).toEqual([1, 2]);
    expect(seqsOf(h.read('a', { seq: 1 }, 100))).toEqual([2, 3, 4]);
    expect(seqsOf(h.read('a', { seq: 4 }, 100))).toEqual([5, 6]);
  });

  it('a read of a topic without a history answers nothing held: firstSeq 1, headSeq 0', () => {
    const h = histories();
    expect(h.read('a', { seq: 0 })).toEqual({ afterSeq: 0, firstSeq: 1, headSeq: 0, events: [], trims: [] });
    expect(h.read('a', { eventId: 'x' })).toMatchObject({ afterSeq: null, events: [] });
  });

  it('headsOf answers each listed topic, 0 for one without a history, and nothing while none has one', () => {
    const h = histories();
    expect(headsOf(h.held, ['a', 'b'])).toEqual([]);
    h.append('a', 'e1');
    h.append('a', 'e2');
    expect(headsOf(h.held, ['a', 'b'])).toEqual([
      { topic: 'a', seq: 2 },
      { topic: 'b', seq: 0 },
    ]);
  });
});

/**
 * The rules, written as plainly as possible: every append of a topic since it was last forgotten,
 * and from those what is held (the newest `historyEventsMax`, younger than `historyAgeMs`) and
 * which ids are remembered (the newest `historyIdsMax`, younger than `historyAgeMs`).
 */
class HistoryModel {
  readonly logs = new Map<string, { id: string; seq: number; atMs: number }[]>();
  constructor(readonly limits: HistoryLimits) {}

  private young(now: Ms) {
    return (e: { atMs: number }) => e.atMs > now - this.limits.historyAgeMs;
  }
  head(topic: string): number {
    return this.logs.get(topic)?.at(-1)?.seq ?? 0;
  }
  held(topic: string, now: Ms) {
    const head = this.head(topic);
    return (this.logs.get(topic) ?? []).filter(
      (e) => e.seq > head - this.limits.historyEventsMax && this.young(now)(e),
    );
  }
  remembered(topic: string, id: string, now: Ms): number | null {
    const head = this.head(topic);
    const found = (this.logs.get(topic) ?? []).find(
      (e) => e.id === id && e.seq > head - this.limits.historyIdsMax && this.young(now)(e),
    );
    return found?.seq ?? null;
  }
  append(topic: string, id: string, now: Ms): { seq: number; duplicate: boolean } | 'full' {
    const known = this.remembered(topic, id, now);
    if (known !== null) return { seq: known, duplicate: true };
    if (!this.logs.has(topic) && this.logs.size >= this.limits.historyTopicsMax) return 'full';
    const log = this.logs.get(topic) ?? [];
    this.logs.set(topic, log);
    const seq = this.head(topic) + 1;
    log.push({ id, seq, atMs: now });
    return { seq, duplicate: false };
  }
  /** Trimming is all a sweep does here: what is held follows from the log, and heads are never forgotten. */
  sweep(): void {}
}

type Op =
  | { kind: 'append'; topic: string; id: string; afterMs: number }
  | { kind: 'read'; topic: string; after: HistoryAfter; limit: number; afterMs: number }
  | { kind: 'sweep'; afterMs: number };

// Mostly one topic and short steps, so histories fill up, ids come back while remembered and
// reads meet full histories; long steps now and then, so ages pass and topics are forgotten.
const topicArb = fc.constantFrom('a', 'a', 'a', 'b', 'c');
const stepArb = fc.oneof({ weight: 4, arbitrary: fc.nat(8) }, { weight: 1, arbitrary: fc.nat(120) });
const idArb = fc.constantFrom('x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('append'), topic: topicArb, id: idArb, afterMs: stepArb }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('read'),
      topic: topicArb,
      after: fc.oneof(fc.record({ seq: fc.nat(8) }), fc.record({ eventId: idArb })),
      limit: fc.integer({ min: 1, max: 5 }),
      afterMs: stepArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep'), afterMs: stepArb }) },
);

describe('store histories: the rules as a model', () => {
  it('appends, reads and sweeps answer as the model says, and every seq not held was reported trimmed', () => {
    const limits: HistoryLimits = {
      historyEventsMax: 3,
      historyAgeMs: 100,
      historyIdsMax: 5,
      historyTopicsMax: 2,
      readEventsMax: 2,
    };
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80, size: 'max' }), (ops) => {
        const held: Histories = new Map();
        const model = new HistoryModel(limits);
        /** Per topic, the seq through which trims were reported (reset when the topic is forgotten). */
        const reported = new Map<string, number>();
        const noteTrims = (trims: Trim[]) => {
          for (const { topic, throughSeq } of trims) {
            expect(throughSeq).toBeGreaterThan(reported.get(topic) ?? 0);
            expect(throughSeq).toBeLessThanOrEqual(model.head(topic));
            reported.set(topic, throughSeq);
          }
        };
        let now = 0;
        for (const op of ops) {
          now += op.afterMs;
          if (op.kind === 'append') {
            const expected = model.append(op.topic, op.id, now);
            const got = appendEvent(held, limits, event(op.topic, op.id), now, {});
            if (expected === 'full') expect(got.kind).toBe('full');
            else {
              expect(got).toMatchObject({ kind: 'appended', ...expected });
              if (got.kind === 'appended') noteTrims(got.trims);
            }
          } else if (op.kind === 'read') {
            const got = readHistory(held, limits, op.topic, op.after, op.limit, now, {});
            noteTrims(got.trims);
            const heldNow = model.held(op.topic, now);
            const head = model.head(op.topic);
            const afterSeq =
              'seq' in op.after ? op.after.seq : model.remembered(op.topic, op.after.eventId, now);
            const events =
              afterSeq === null || !model.logs.has(op.topic)
                ? []
                : heldNow.filter((e) => e.seq > afterSeq).slice(0, Math.min(op.limit, limits.readEventsMax));
            expect(got).toMatchObject({ afterSeq, headSeq: head, firstSeq: heldNow[0]?.seq ?? head + 1 });
            expect(got.events).toEqual(events.map((e) => ({ seq: e.seq, event: event(op.topic, e.id) })));
            // What a reader cannot get any more was reported to the traces.
            if (model.logs.has(op.topic)) expect(reported.get(op.topic) ?? 0).toBe(got.firstSeq - 1);
          } else {
            noteTrims(sweepHistories(held, limits, now).trims);
            model.sweep();
          }
          expect([...held.keys()].sort()).toEqual([...model.logs.keys()].sort());
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('store node: histories in its replies and effects', () => {
  const request = (r: StoreRequest, requestId = 1) => ({
    kind: 'message' as const,
    source: 'dc-a/dispatcher-1',
    message: { type: 'store-request' as const, requestId, request: r },
  });
  const ofKind = <K extends Effect['kind']>(effects: Effect[], kind: K) =>
    effects.filter((e): e is Extract<Effect, { kind: K }> => e.kind === kind);

  it('an append emits appended with the store epoch, a trim emits trimmed, both before the reply', () => {
    const store = createStore({ historyEventsMax: 1 }, 7);
    const first = handle(store, request({ op: 'append', event: event('a', 'e1') }), 0);
    expect(first.map((e) => e.kind)).toEqual(['appended', 'send']);
    expect(first[0]).toEqual({
      kind: 'appended',
      event: event('a', 'e1'),
      epoch: 7,
      seq: 1,
      duplicate: false,
    });
    const second = handle(store, request({ op: 'append', event: event('a', 'e2') }, 2), 1);
    expect(second.map((e) => e.kind)).toEqual(['appended', 'trimmed', 'send']);
    expect(ofKind(second, 'trimmed')).toEqual([{ kind: 'trimmed', topic: 'a', epoch: 7, throughSeq: 1 }]);
    expect(ofKind(second, 'send')[0]?.message).toMatchObject({
      type: 'store-reply',
      requestId: 2,
      reply: { op: 'appended', seq: 2, duplicate: false, frontends: [], lapsed: [], epoch: 7 },
    });
    const retry = handle(store, request({ op: 'append', event: event('a', 'e2') }, 3), 2);
    expect(ofKind(retry, 'appended')).toEqual([
      { kind: 'appended', event: event('a', 'e2'), epoch: 7, seq: 2, duplicate: true },
    ]);
  });

  it('a read and the sweep report what age trimmed, under the store epoch', () => {
    const store = createStore({ historyAgeMs: 100, sweepEveryMs: 50 }, 3);
    handle(store, request({ op: 'append', event: event('a', 'e1') }), 0);
    handle(store, request({ op: 'append', event: event('b', 'e2') }), 60);
    expect(deadline(store)).toBe(50);
    expect(handle(store, { kind: 'deadline' }, 50)).toEqual([]);
    const read = handle(store, request({ op: 'read', topic: 'a', after: { seq: 0 }, limit: 10 }), 100);
    expect(ofKind(read, 'trimmed')).toEqual([{ kind: 'trimmed', topic: 'a', epoch: 3, throughSeq: 1 }]);
    expect(ofKind(read, 'send')[0]?.message).toMatchObject({
      reply: { op: 'range', epoch: 3, afterSeq: 0, firstSeq: 2, headSeq: 1, events: [] },
    });
    expect(deadline(store)).toBe(100);
    expect(handle(store, { kind: 'deadline' }, 160)).toEqual([
      { kind: 'trimmed', topic: 'b', epoch: 3, throughSeq: 1 },
    ]);
    // Nothing is held any more and no lease is left: the store stops sweeping, and keeps the heads.
    expect(store.histories.size).toBe(2);
    expect(deadline(store)).toBeNull();
  });

  it('lease replies carry no heads while the store holds no history; then the head of every topic written', () => {
    const store = createStore();
    const add = (topic: string) =>
      ({ op: 'add', topic, frontend: 'fe-1', leaseMs: 1_000, generation: 1 }) as const;
    const renew = (topics: string[]) =>
      ({ op: 'renew', topics, frontend: 'fe-1', leaseMs: 1_000, generation: 1 }) as const;
    expect(apply(store, add('a'), 0).reply).not.toHaveProperty('heads');
    expect(apply(store, renew(['a']), 1).reply).not.toHaveProperty('heads');
    apply(store, { op: 'append', event: event('a', 'e1') }, 2);
    apply(store, { op: 'append', event: event('a', 'e2') }, 3);
    expect(apply(store, add('b'), 4).reply).toMatchObject({ op: 'written', heads: [{ topic: 'b', seq: 0 }] });
    expect(apply(store, renew(['a', 'b']), 5).reply).toMatchObject({
      op: 'written',
      heads: [
        { topic: 'a', seq: 2 },
        { topic: 'b', seq: 0 },
      ],
    });
  });

  it('an append to one topic more than historyTopicsMax is answered rejected/full', () => {
    const store = createStore({ historyTopicsMax: 1 });
    expect(apply(store, { op: 'append', event: event('a', 'e1') }, 0).reply).toMatchObject({
      op: 'appended',
    });
    const full = handle(store, request({ op: 'append', event: event('b', 'e2') }), 1);
    expect(full.map((e) => e.kind)).toEqual(['send']);
    expect(ofKind(full, 'send')[0]?.message).toMatchObject({
      reply: {
        op: 'rejected',
        reason: 'full',
        message: 'store holds histories of 1 topics (historyTopicsMax 1)',
      },
    });
  });
});
