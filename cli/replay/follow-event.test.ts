// Goal: following an event shows its whole path as the trace has it: publish, store lookup,
// cross-DC forwards, deliveries to connections, and where and why it was dropped or lost.
// Method: a real simulator run with a partition and a planted bug that skips deliveries
// (test-traces.ts); the path of a lost event and of one published during the partition.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../sim/index.ts';
import { faultyTimesUs, readRecords, writeTestTrace } from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let records: TraceRecord[];
let index: TraceIndex;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-follow-'));
  const path = writeTestTrace(dir, 'faulty').path;
  records = readRecords(path);
  index = new TraceIndex(path, { checkpointEvery: 37 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('following an event', () => {
  it('goes from publish through lookup, forward and frontends to where it was lost', () => {
    const lost = index.violations.find((v) => v.violation.invariant === 'explained-loss')!.violation.e!;
    const followed = index.follow(lost);
    const text = followed.steps.map((s) => s.text).join('\n');
    expect(followed.topic).toMatch(/^likes-/);
    expect(text).toMatch(/^published on likes-/);
    expect(text).toMatch(/dc-\w\/dispatcher-\d -> dc-\w\/store store lookup #\d+: arrived \+\d+us/);
    expect(text).toContain('cross-DC forward');
    expect(text).toMatch(/delivered to \d+ connections?: dc-/);
    expect(text).toContain('UNEXPLAINED');
    expect(text).not.toContain('in flight');
    expect(followed.steps.filter((step) => step.bad).map((step) => step.text)).toEqual(
      followed.steps.filter((step) => /LOST|VIOLATION|DROPPED/.test(step.text)).map((step) => step.text),
    );
    expect(followed.violations.map((v) => v.violation.invariant)).toEqual(['explained-loss']);
  });

  it("names a forward the partition dropped, with the drop's reason and fault", () => {
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
  });

  it('an unknown event is not found', () => {
    expect(index.follow('no-such-event')).toEqual({
      e: 'no-such-event',
      found: false,
      steps: [],
      violations: [],
    });
  });
});
