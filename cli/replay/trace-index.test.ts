// Goal: the trace index shows exactly what a full reading of the trace would, at any time, while
// holding no parsed records; and a trace changed under it is refused, not misread.
// Method: a real simulator run with faults and planted bugs (test-traces.ts), indexed with small
// checkpoint spacing and compared at seeded random times with the naive reading.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../sim/index.ts';
import {
  faultyTimesUs,
  naiveStateAt,
  readTrace,
  type ReadTrace,
  seeded,
  type TestTrace,
  writeTestTrace,
} from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let trace: TestTrace;
let read: ReadTrace;
let records: TraceRecord[];
let index: TraceIndex;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-index-'));
  trace = writeTestTrace(dir, 'faulty');
  read = readTrace(trace.path);
  records = read.records;
  index = new TraceIndex(trace.path, { checkpointEvery: 37 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trace index', () => {
  it('the state at 40 random times equals a full reading (nodes, counters, faults in force)', () => {
    const random = seeded(11);
    const times = [0, faultyTimesUs.kill[0], faultyTimesUs.partition[0], index.endT];
    for (let i = 0; i < 36; i++) times.push(Math.floor(random() * index.endT));
    for (const t of times) {
      const expected = naiveStateAt(read, t);
      const actual = index.stateAt(t);
      expect(actual.nodeViews(), `nodes at ${t}`).toEqual(expected.nodeViews());
      expect(actual.counters, `counters at ${t}`).toEqual(expected.counters);
      expect([...actual.faults.keys()], `faults at ${t}`).toEqual([...expected.faults.keys()]);
      const view = index.window(t, 5, 5).view;
      expect(view.nodes).toEqual(expected.nodeViews());
      expect(view.counters).toEqual(expected.counters);
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

  it('knows when each event was published, and names faults by number', () => {
    const publishes = records.filter((r) => r.k === 'publish');
    expect(index.events).toBe(publishes.length);
    expect(index.firstPublishTime()).toBe(publishes[0]!.t);
    for (const publish of publishes) {
      expect(index.hasEvent(publish.e)).toBe(true);
      expect(index.publishTime(publish.e)).toBe(publish.t);
    }
    expect(index.hasEvent('no-such-event')).toBe(false);
    expect(index.publishTime('no-such-event')).toBeNull();
    expect(index.faultName(2)).toBe('fault #2 partition dc-a | dc-b');
    expect(index.faultName(9)).toBe('fault #9');
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

  it('a trace rewritten while open is refused, not misread', () => {
    const file = join(dir, 'rewritten.jsonl');
    writeFileSync(file, readFileSync(trace.path));
    const opened = new TraceIndex(file, { checkpointEvery: 37 });
    writeFileSync(file, readFileSync(trace.path, 'utf8').split('\n').slice(0, 100).join('\n'));
    expect(() => opened.window(opened.endT / 2, 5, 5)).toThrow(
      /rewritten\.jsonl changed since it was opened/,
    );
  });

  it('a missing file', () => {
    expect(() => new TraceIndex(join(dir, 'absent.jsonl'))).toThrow(/absent.jsonl: no such file/);
  });
});
