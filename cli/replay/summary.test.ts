// Goal: without a terminal, replay prints what a person needs from a run: its topology, its faults,
// the counters and node states at the end, for a reliable run what reliable mode's checker counted,
// and every violation with the checker's causal chain.
// Method: real simulator runs with faults and planted bugs, and in reliable mode (test-traces.ts),
// their summaries read.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTime } from './format.ts';
import { summaryText } from './summary.ts';
import { type TestTrace, writeTestTrace } from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let trace: TestTrace;
let text: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-summary-'));
  trace = writeTestTrace(dir, 'faulty');
  text = summaryText(new TraceIndex(trace.path));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the static summary', () => {
  it('names the run, its topology and its faults with their times', () => {
    expect(text).toContain(`scenario faulty, seed 1`);
    expect(text).toContain('dc-a: frontend-1, frontend-2, dispatcher-1, dispatcher-2, store');
    expect(text).toContain('#1 2.000000s until 3.000000s: kill dc-a/frontend-1');
    expect(text).toContain('#2 3.500000s until 4.500000s: partition dc-a | dc-b');
  });

  it("gives the counters at the end as the run's report totals them, and each node's state", () => {
    const report = trace.report;
    expect(text).toContain(
      `At the end (${formatTime(report.simulatedMs * 1000)}): published ${report.published}, delivered ${report.delivered}, ` +
        `lost ${report.lost.explained} explained / ${report.lost.unexplained} unexplained, ` +
        `duplicates ${report.duplicates}, violations ${Object.values(report.violationCounts).reduce((a, b) => a + b, 0)}`,
    );
    expect(text).toMatch(/^ {2}dc-a\/frontend-1: up, \d+ connections, \d+ topics, \d+ leases$/m);
    expect(text).toMatch(/^ {2}dc-b\/store: up, \d+ leases$/m);
  });

  it('lists every violation with its chain', () => {
    const violations = trace.report.violations;
    expect(violations.length).toBeGreaterThan(20);
    const counted = Object.values(trace.report.violationCounts).reduce((a, b) => a + b, 0);
    expect(counted).toBeGreaterThan(violations.length);
    expect(text).toContain(
      `Violations (${violations.length}, the first of ${counted} the checkers counted):`,
    );
    for (const [i, v] of violations.entries()) {
      expect(text).toContain(`  ${i + 1}. ${formatTime(v.t)} ${v.invariant}`);
      for (const step of v.chain) expect(text).toContain(`       ${step}`);
    }
  });

  it("says so when records came after their event's retention in the checkers", () => {
    expect(text).not.toContain("after their event's retention");
    // The faulty trace with one connection receiving its first event again at the very end.
    const lines = readFileSync(trace.path, 'utf8').trimEnd().split('\n');
    const end = JSON.parse(lines.at(-1)!) as { t: number };
    const first = JSON.parse(lines.find((line) => line.startsWith('{"k":"deliver"'))!) as { c?: string[] };
    const late = {
      ...first,
      t: end.t,
      n: 1,
      c: [lines.find((line) => line.includes('"op":"open"'))!.match(/"c":"([^"]+)"/)![1]],
    };
    delete (late as { add?: unknown }).add;
    delete (late as { omit?: unknown }).omit;
    const path = join(dir, 'late.jsonl');
    writeFileSync(path, `${[...lines.slice(0, -1), JSON.stringify(late), lines.at(-1)].join('\n')}\n`);
    const index = new TraceIndex(path);
    expect(index.checkersHeld().pastRetention).toBe(1);
    expect(summaryText(index)).toContain(
      "(1 record(s) came after their event's retention in the checkers and were judged against a forgotten history",
    );
  });

  it("a reliable trace: its gap notices by why, resumes and acknowledgements as the run's report counts them", () => {
    expect(text).not.toContain('Reliable mode');
    const reliable = writeTestTrace(dir, 'reliable');
    const r = reliable.report.reliable!;
    const summary = summaryText(new TraceIndex(reliable.path));
    expect(r.gaps.trimmed).toBeGreaterThan(0);
    expect(summary).toContain('Reliable mode (the checkers, over the whole trace):');
    expect(summary).toContain(
      `  gap notices: trimmed ${r.gaps.trimmed}, epoch ${r.gaps.epoch}, unknown-cursor ${r.gaps['unknown-cursor']}, duplicate ${r.gaps.duplicate}; ${r.dishonestGaps} dishonest`,
    );
    expect(summary).toContain(`  resumes: ${r.resumes} `);
    expect(summary).toContain(
      `  acknowledged: ${r.acknowledged + r.acknowledgedPending} publishes answered OK (${r.acknowledgedPending} with forward-pending); ${r.unstoredAcknowledgements} not stored where owed`,
    );
    expect(summary).toContain(`  appended: ${r.appended} over every store`);
    // What missed its deadline in reliable mode comes later or is told as a gap: late, not lost.
    expect(summary).toMatch(/published \d+, delivered \d+, late \d+ explained \/ \d+ unexplained/);
  });
});
