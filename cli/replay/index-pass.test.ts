// Goal: opening a trace validates every line, turns every kind of broken trace into one message
// naming the file and the line, and keeps checkpoints that say exactly what a full reading would.
// Method: a real simulator run with faults and planted bugs (test-traces.ts) indexed with small
// checkpoint spacing and compared with the naive reading; broken traces written by hand; the
// flagship frontend-death scenario.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../sim/index.ts';
import { UsageError } from '../usage-error.ts';
import type { RunRecord } from './index-pass.ts';
import { ReplayState } from './replay-state.ts';
import { summaryText } from './summary.ts';
import {
  NaiveReplay,
  faultyTimesUs,
  readRecords,
  readTrace,
  type TestTrace,
  writeTestTrace,
} from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let trace: TestTrace;
let index: TraceIndex;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-pass-'));
  trace = writeTestTrace(dir, 'faulty');
  index = new TraceIndex(trace.path, { checkpointEvery: 37 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the pass that opens a trace', () => {
  it('indexes the whole trace: lines, faults, violations, checkpoints', () => {
    const records = readRecords(trace.path);
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

  it('counts what the report counts, every violation included, although the checker keeps only the first in detail', () => {
    const report = trace.report;
    // The checker keeps 20 violations per invariant in detail and only counts the rest.
    expect(report.duplicates).toBeGreaterThan(20);
    expect(index.violations.filter((v) => v.violation.invariant === 'no-duplicates')).toHaveLength(20);
    expect(index.totals).toEqual({
      published: report.published,
      delivered: report.delivered,
      lostExplained: report.lost.explained,
      lostUnexplained: report.lost.unexplained,
      duplicates: report.duplicates,
      violations: Object.values(report.violationCounts).reduce((a, b) => a + b, 0),
    });
    expect(index.stateAt(index.endT).counters).toEqual(index.totals);
    expect(index.checked.violationCounts).toEqual(report.violationCounts);
  });

  it("each checkpoint's compact snapshot equals a full reading up to it", () => {
    const naive = new NaiveReplay(readTrace(trace.path));
    for (const checkpoint of index.checkpoints) {
      const state = naive.until(checkpoint.records);
      expect([...checkpoint.nodeCounts]).toEqual([...state.nodeCounts()]);
      expect(checkpoint.counters).toEqual(state.counters);
      expect(checkpoint.t).toBe(state.t);
    }
  });

  it('reports its progress through a large file', () => {
    const seen: [number, number][] = [];
    new TraceIndex(trace.path, { chunkBytes: 4096, onProgress: (done, total) => seen.push([done, total]) });
    expect(seen.length).toBeGreaterThan(5);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![0]).toBeGreaterThan(seen[i - 1]![0]);
    expect(seen.at(-1)![0]).toBeLessThanOrEqual(seen.at(-1)![1]);
  });
});

describe('broken traces', () => {
  // The real run record of the faulty trace: what follows it is what is broken.
  let run = '';
  beforeAll(() => {
    run = readFileSync(trace.path, 'utf8').split('\n')[0]!;
  });
  const cases: [string, (run: string) => string, RegExp][] = [
    ['truncated', (run) => `${run}\n{"k":"publish","t":5,"e":"ev-1"`, /line 2: truncated/],
    [
      'malformed',
      (run) => `${run}\n{"k":"node","t":1,"node":"a","op":"up"}\n{not json}\n`,
      /line 3: malformed JSON/,
    ],
    [
      'not run first',
      (run) => `{"k":"node","t":1,"node":"a","op":"up"}\n${run}\n`,
      /line 1: the first record must be `run`, found `node`/,
    ],
    [
      'unknown kind',
      (run) => `${run}\n{"k":"node","t":1,"node":"a","op":"up"}\n{"k":"teleport","t":2}\n`,
      /line 3: unknown record kind "teleport"/,
    ],
    [
      'bad time',
      (run) => `${run}\n{"k":"recv","t":1.5,"m":1}\n`,
      /line 2: recv: time `t` must be a non-negative integer/,
    ],
    [
      'backwards',
      (run) =>
        `${run}\n{"k":"node","t":9,"node":"dc-a/store","op":"down"}\n{"k":"node","t":8,"node":"dc-a/store","op":"up"}\n`,
      /line 3: time goes backwards \(8 after 9\)/,
    ],
    [
      'missing field',
      (run) => `${run}\n{"k":"deliver","t":1,"node":"a","e":"x","topic":"t"}\n`,
      /line 2: deliver: field `n` is missing/,
    ],
    [
      'fault ends unstarted',
      (run) => `${run}\n{"k":"fault","t":1,"f":3,"phase":"end","fault":{"kind":"kill","node":"a"}}\n`,
      /line 2: fault #3 ends but never started/,
    ],
    [
      'unknown fault kind',
      (run) => `${run}\n{"k":"fault","t":1,"f":1,"phase":"start","fault":{"kind":"meteor"}}\n`,
      /line 2: fault: `fault.kind` must be one of kill, partition, isolate, jitter-storm, loss-burst \(got "meteor"\)/,
    ],
    [
      'unknown connection change',
      (run) => `${run}\n{"k":"conn","t":1,"c":"c-1","node":"a","v":1,"op":"teleport"}\n`,
      /line 2: conn: field `op` must be one of open, close, sub, unsub, refused \(got "teleport"\)/,
    ],
    ['a second run', (run) => `${run}\n${run}\n`, /line 2: a second `run` record/],
    [
      'after the end',
      (run) => `${run}\n{"k":"end","t":1,"report":{"items":1}}\n{"k":"recv","t":2,"m":1}\n`,
      /line 3: a recv record after the `end` record/,
    ],
    ['empty', () => '', /empty file/],
    ['blank line', (run) => `${run}\n\n`, /line 2: empty line/],
    [
      'a batch for a connection nothing opened, of an event never published',
      (run) =>
        `${run}\n{"k":"deliver","t":1,"node":"dc-a/frontend-1","e":"nope","topic":"likes-1","n":1,"d":"00000000","c":["ghost"]}\n`,
      /line 2: the checkers cannot judge this record: .*connection/,
    ],
  ];
  for (const [name, text, message] of cases) {
    it(`${name}: a UsageError naming the file and the line`, () => {
      const file = join(dir, `${name.replace(/ /g, '-')}.jsonl`);
      writeFileSync(file, text(run));
      expect(() => new TraceIndex(file)).toThrow(UsageError);
      expect(() => new TraceIndex(file)).toThrow(message);
      expect(() => new TraceIndex(file)).toThrow(file);
    });
  }

  it('a trace without its `end` record (a run that stopped early) still opens, and says so', () => {
    const file = join(dir, 'unfinished.jsonl');
    const lines = readFileSync(trace.path, 'utf8').trim().split('\n');
    writeFileSync(file, `${lines.slice(0, 300).join('\n')}\n`);
    const unfinished = new TraceIndex(file);
    expect(unfinished.end).toBeNull();
    expect(unfinished.lines).toBe(300);
    expect(summaryText(unfinished)).toContain('no `end` record');
  });
});

describe('a flagship scenario', () => {
  it('frontend-death: every implicit delivery reaches exactly `n` connections, and the counters match the report', () => {
    const file = join(dir, 'frontend-death.jsonl');
    const report = runScenario(loadScenario('frontend-death'), '3', { tracePath: file });
    const real = new TraceIndex(file, { checkpointEvery: 1000 });
    expect(real.faults.map((f) => f.fault.kind)).toContain('kill');
    const records = readRecords(file);
    const state = new ReplayState((records[0] as RunRecord).nodes);
    let implicit = 0;
    for (const record of records) {
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
    expect(end.violations).toBe(Object.values(report.violationCounts).reduce((a, b) => a + b, 0));
  });
});
