// Goal: the trace index shows exactly what a full scan of the trace would, holds no parsed records,
// and turns every kind of broken trace into one message naming the file and the line.
// Method: a real simulator run with faults and planted bugs (test-traces.ts), indexed with small
// checkpoint spacing and compared at seeded random times with a naive scan that keeps every record;
// broken traces written by hand; the flagship frontend-death scenario.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../sim/index.ts';
import { UsageError } from '../usage-error.ts';
import { parseFilter, matches } from './filter.ts';
import type { SendInfo } from './format.ts';
import type { TraceRecord } from './records.ts';
import { ReplayState } from './replay-state.ts';
import { summaryText } from './summary.ts';
import { faultyTimesUs, type TestTrace, writeTestTrace } from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let path: string;
let trace: TestTrace;
let records: TraceRecord[];
let index: TraceIndex;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-'));
  trace = writeTestTrace(dir, 'faulty');
  path = trace.path;
  records = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as TraceRecord);
  index = new TraceIndex(path, { checkpointEvery: 37 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Apply a record the naive way: duplicates from every (event, connection) pair seen, never forgotten. */
function naiveApply(state: ReplayState, record: TraceRecord, seen: Map<string, Set<string>>): void {
  let duplicates = 0;
  if (record.k === 'deliver') {
    const received = seen.get(record.e) ?? new Set<string>();
    seen.set(record.e, received);
    for (const c of state.recipients(record)) {
      if (received.has(c)) duplicates++;
      received.add(c);
    }
  }
  state.apply(record, duplicates);
}

/** The naive answer: apply every record at or before `t` to a fresh state. */
function fullScan(t: number): ReplayState {
  const run = records[0] as Extract<TraceRecord, { k: 'run' }>;
  const state = new ReplayState(run.nodes);
  const seen = new Map<string, Set<string>>();
  for (const record of records) if (record.t <= t) naiveApply(state, record, seen);
  return state;
}

/** A connection that subscribed to a topic and stayed long enough to receive deliveries. */
function subscribedConnection(): string {
  const subscribed = records.filter((r) => r.k === 'conn' && r.op === 'sub');
  return (subscribed[subscribed.length >> 1] as Extract<TraceRecord, { k: 'conn' }>).c;
}

function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('trace index', () => {
  it('indexes the whole trace: lines, faults, violations, checkpoints', () => {
    expect(index.lines).toBe(records.length);
    expect(index.lines).toBe(trace.report.traceLines);
    expect(index.end).not.toBeNull();
    expect(index.faults.map((f) => f.fault.kind)).toEqual(['kill', 'partition']);
    expect(index.faults.map((f) => [f.start, f.end])).toEqual([faultyTimesUs.kill, faultyTimesUs.partition]);
    expect(index.violations).toHaveLength(trace.report.violations.length);
    expect(new Set(index.violations.map((v) => v.violation.invariant))).toEqual(
      new Set(['explained-loss', 'no-duplicates']),
    );
    expect(index.checkpoints.length).toBeGreaterThan(records.length / 37 - 1);
    expect(index.datacenters).toEqual(['dc-a', 'dc-b', 'dc-c']);
  });

  it('counts what the report counts, duplicates included, although the trace holds only the first violations', () => {
    const report = trace.report;
    // The checker writes 20 violations per invariant and only counts the rest.
    expect(report.duplicates).toBeGreaterThan(20);
    expect(index.violations.filter((v) => v.violation.invariant === 'no-duplicates')).toHaveLength(20);
    expect(index.totals).toEqual({
      published: report.published,
      delivered: report.delivered,
      lostExplained: report.lost.explained,
      lostUnexplained: report.lost.unexplained,
      duplicates: report.duplicates,
      violations: report.violations.length,
    });
    expect(index.stateAt(index.endT).counters).toEqual(index.totals);
  });

  it('the state at 40 random times equals a full scan (nodes, counters, faults in force)', () => {
    const random = seeded(11);
    const times = [0, faultyTimesUs.kill[0], faultyTimesUs.partition[0], index.endT];
    for (let i = 0; i < 36; i++) times.push(Math.floor(random() * index.endT));
    for (const t of times) {
      const expected = fullScan(t);
      const actual = index.stateAt(t);
      expect(actual.nodeViews(), `nodes at ${t}`).toEqual(expected.nodeViews());
      expect(actual.counters, `counters at ${t}`).toEqual(expected.counters);
      expect([...actual.faults.keys()], `faults at ${t}`).toEqual([...expected.faults.keys()]);
      const view = index.window(t, 5, 5).view;
      expect(view.nodes).toEqual(expected.nodeViews());
      expect(view.counters).toEqual(expected.counters);
    }
  });

  it("each checkpoint's compact snapshot equals a full scan up to it", () => {
    const run = records[0] as Extract<TraceRecord, { k: 'run' }>;
    const state = new ReplayState(run.nodes);
    const seen = new Map<string, Set<string>>();
    let applied = 0;
    for (const checkpoint of index.checkpoints) {
      while (applied < checkpoint.records) naiveApply(state, records[applied++]!, seen);
      expect([...checkpoint.nodeCounts]).toEqual([...state.nodeCounts()]);
      expect(checkpoint.counters).toEqual(state.counters);
      expect(checkpoint.t).toBe(state.t);
    }
  });

  it('restoring any checkpoint gives back its snapshot and its subscribers in order, with or without kept structures', () => {
    const run = records[0] as Extract<TraceRecord, { k: 'run' }>;
    const withStructures = new TraceIndex(path, { checkpointEvery: 37, structureEvery: 10 });
    expect(withStructures.held().structures).toBeGreaterThan(3);
    expect(index.held().structures).toBe(0);
    const frontends = run.nodes.filter((node) => node.role === 'frontend').map((node) => node.id);
    const naive = new ReplayState(run.nodes);
    const seen = new Map<string, Set<string>>();
    let applied = 0;
    for (const [k, checkpoint] of index.checkpoints.entries()) {
      while (applied < checkpoint.records) naiveApply(naive, records[applied++]!, seen);
      for (const restored of [index.restore(k), withStructures.restore(k)]) {
        expect([...restored.nodeCounts()], `checkpoint ${k}`).toEqual([...checkpoint.nodeCounts]);
        expect(restored.counters).toEqual(checkpoint.counters);
        for (const fe of frontends) {
          for (const topic of ['likes-1', 'likes-2']) {
            expect(restored.subscribersOf(fe, topic), `${fe} ${topic} at ${k}`).toEqual(
              naive.subscribersOf(fe, topic),
            );
          }
        }
      }
    }
  });

  it('the window around a time holds the records a full scan finds there, with and without a filter', () => {
    const random = seeded(5);
    // Checkpoints further apart than the longest message flight, so every recv finds its send.
    const spaced = new TraceIndex(path, { checkpointEvery: 200 });
    const publishes = records.filter((r) => r.k === 'publish');
    const filters = [
      null,
      parseFilter('node:dc-a/frontend-2'),
      parseFilter('topic:likes-2'),
      parseFilter(`e:${publishes[publishes.length >> 1]!.e}`),
      parseFilter(`conn:${subscribedConnection()}`),
    ];
    for (let i = 0; i < 20; i++) {
      const t = Math.floor(random() * index.endT);
      for (const filter of filters) {
        const window = spaced.window(t, 8, 4, filter, 1000);
        const state = new ReplayState((records[0] as Extract<TraceRecord, { k: 'run' }>).nodes);
        const sends = new Map<number, SendInfo>();
        const kept: TraceRecord[] = [];
        for (const record of records.slice(1)) {
          if (record.k === 'send')
            sends.set(record.m, {
              from: record.from,
              to: record.to,
              type: record.type,
              ...(record.e ? { e: record.e } : {}),
            });
          const send = record.k === 'recv' || record.k === 'drop' ? sends.get(record.m) : undefined;
          if (!filter || matches(filter, record, send, state)) kept.push(record);
          state.apply(record);
        }
        const label = `${filter?.text ?? 'no filter'} at ${t}`;
        expect(
          window.before.map((e) => e.record),
          label,
        ).toEqual(kept.filter((r) => r.t <= t).slice(-8));
        expect(
          window.after.map((e) => e.record),
          label,
        ).toEqual(kept.filter((r) => r.t > t).slice(0, 4));
      }
    }
  });

  it('a connection filter finds the deliveries that reached it without listing it', () => {
    const window = index.window(index.endT, 50, 0, parseFilter(`conn:${subscribedConnection()}`), 1000);
    const kinds = new Set(window.before.map((entry) => entry.record.k));
    expect(kinds.has('deliver')).toBe(true);
    expect(kinds.has('conn')).toBe(true);
    for (const entry of window.before) {
      if (entry.record.k === 'deliver') expect(entry.record.c).toBeUndefined();
    }
  });

  it('steps to the next and previous times something happened', () => {
    const times = [...new Set(records.map((r) => r.t))];
    const random = seeded(9);
    for (let i = 0; i < 30; i++) {
      const t = Math.floor(random() * index.endT);
      expect(index.nextTime(t)).toBe(times.find((x) => x > t) ?? null);
      expect(index.previousTime(t)).toBe(times.filter((x) => x < t).at(-1) ?? null);
    }
    expect(index.nextTime(index.endT)).toBeNull();
    expect(index.previousTime(0)).toBeNull();
  });

  it('follows an event from publish through lookup, forward and frontends to where it was lost', () => {
    const lost = index.violations.find((v) => v.violation.invariant === 'explained-loss')!.violation.e!;
    const followed = index.follow(lost);
    const text = followed.steps.map((s) => s.text).join('\n');
    expect(text).toMatch(/^published on likes-/);
    expect(text).toContain('store lookup');
    expect(text).toContain('cross-DC forward');
    expect(text).toMatch(/delivered to \d+ connections?: dc-/);
    expect(text).toContain('UNEXPLAINED');
    expect(followed.violations.map((v) => v.violation.invariant)).toEqual(['explained-loss']);
    // An event published during the partition has a forward dropped with its reason and fault.
    const during = records.find(
      (r): r is Extract<TraceRecord, { k: 'publish' }> =>
        r.k === 'publish' && r.t > faultyTimesUs.partition[0] && r.origin === 'dc-a',
    )!;
    const partitioned = index
      .follow(during.e)
      .steps.map((s) => s.text)
      .join('\n');
    expect(partitioned).toMatch(
      /cross-DC forward #\d+: DROPPED \+[\d.]+(us|ms), partition \(fault #2 partition dc-a \| dc-b\)/,
    );
    expect(index.follow('no-such-event').found).toBe(false);
  });

  it('reports its progress through a large file', () => {
    const seen: [number, number][] = [];
    new TraceIndex(path, { chunkBytes: 4096, onProgress: (done, total) => seen.push([done, total]) });
    expect(seen.length).toBeGreaterThan(5);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![0]).toBeGreaterThan(seen[i - 1]![0]);
    expect(seen.at(-1)![0]).toBeLessThanOrEqual(seen.at(-1)![1]);
  });

  it('holds no parsed records: its per-record memory is a small fraction of the trace', () => {
    const held = index.held();
    expect(held.structural).toBeLessThan(index.lines / 4);
    expect(held.events).toBe(trace.report.published);
    expect(held.checkpoints).toBe(index.checkpoints.length);
    // Strings are the names in connection, lease and node changes, each kept once.
    const names = new Set<string>();
    for (const r of records) {
      if (r.k === 'conn') for (const name of [r.c, r.node, r.topic]) if (name !== undefined) names.add(name);
      if (r.k === 'lease') for (const name of [r.dc, r.topic, r.fe]) names.add(name);
      if (r.k === 'node') names.add(r.node);
    }
    expect(held.strings).toBe(names.size);
  });
});

describe('broken traces', () => {
  const run = JSON.stringify({ k: 'run', t: 0, version: 1, scenario: {}, seed: '1', nodes: [] });
  const cases: [string, string, RegExp][] = [
    ['truncated', `${run}\n{"k":"publish","t":5,"e":"ev-1"`, /line 2: truncated/],
    ['malformed', `${run}\n{"k":"node","t":1,"node":"a","op":"up"}\n{not json}\n`, /line 3: malformed JSON/],
    [
      'not run first',
      `{"k":"node","t":1,"node":"a","op":"up"}\n${run}\n`,
      /line 1: the first record must be `run`, found `node`/,
    ],
    [
      'unknown kind',
      `${run}\n{"k":"node","t":1,"node":"a","op":"up"}\n{"k":"teleport","t":2}\n`,
      /line 3: unknown record kind "teleport"/,
    ],
    [
      'bad time',
      `${run}\n{"k":"recv","t":1.5,"m":1}\n`,
      /line 2: recv: time `t` must be a non-negative integer/,
    ],
    [
      'backwards',
      `${run}\n{"k":"recv","t":9,"m":1}\n{"k":"recv","t":8,"m":2}\n`,
      /line 3: time goes backwards/,
    ],
    [
      'missing field',
      `${run}\n{"k":"deliver","t":1,"node":"a","e":"x","topic":"t"}\n`,
      /line 2: deliver: field `n` is missing/,
    ],
    ['empty', '', /empty file/],
    ['blank line', `${run}\n\n`, /line 2: empty line/],
  ];
  for (const [name, text, message] of cases) {
    it(`${name}: a UsageError naming the file and the line`, () => {
      const file = join(dir, `${name.replace(/ /g, '-')}.jsonl`);
      writeFileSync(file, text);
      expect(() => new TraceIndex(file)).toThrow(UsageError);
      expect(() => new TraceIndex(file)).toThrow(message);
      expect(() => new TraceIndex(file)).toThrow(file);
    });
  }

  it('a trace without its `end` record (a run that stopped early) still opens, and says so', () => {
    const file = join(dir, 'unfinished.jsonl');
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    writeFileSync(file, `${lines.slice(0, 300).join('\n')}\n`);
    const unfinished = new TraceIndex(file);
    expect(unfinished.end).toBeNull();
    expect(unfinished.lines).toBe(300);
    expect(summaryText(unfinished)).toContain('no `end` record');
  });

  it('a trace rewritten while open is refused, not misread', () => {
    const file = join(dir, 'rewritten.jsonl');
    writeFileSync(file, readFileSync(path));
    const opened = new TraceIndex(file, { checkpointEvery: 37 });
    writeFileSync(file, readFileSync(path, 'utf8').split('\n').slice(0, 100).join('\n'));
    expect(() => opened.window(opened.endT / 2, 5, 5)).toThrow(
      /rewritten\.jsonl changed since it was opened/,
    );
  });

  it('a missing file', () => {
    expect(() => new TraceIndex(join(dir, 'absent.jsonl'))).toThrow(/absent.jsonl: no such file/);
  });
});

describe('a real simulator trace', () => {
  it('frontend-death: every implicit delivery reaches exactly `n` connections, and the counters match the report', () => {
    const file = join(dir, 'frontend-death.jsonl');
    const report = runScenario(loadScenario('frontend-death'), '3', { tracePath: file });
    const real = new TraceIndex(file, { checkpointEvery: 1000 });
    expect(real.faults.map((f) => f.fault.kind)).toContain('kill');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const state = new ReplayState((JSON.parse(lines[0]!) as Extract<TraceRecord, { k: 'run' }>).nodes);
    let implicit = 0;
    for (const line of lines) {
      const record = JSON.parse(line) as TraceRecord;
      if (record.k === 'deliver' && !record.c) {
        implicit++;
        expect(state.recipients(record)).toHaveLength(record.n);
      }
      state.apply(record);
    }
    expect(implicit).toBeGreaterThan(100);
    const end = real.stateAt(real.endT).counters;
    expect(end.published).toBe(report.published);
    expect(end.delivered).toBe(report.delivered);
    expect(end.lostExplained).toBe(report.lost.explained);
    expect(end.lostUnexplained).toBe(report.lost.unexplained);
    expect(end.violations).toBe(report.violations.length);
  });
});
