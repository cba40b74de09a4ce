// Goal: replay reads what the simulator really writes, violations included: a run with a planted bug
// opens, `n` lands on a violation with the checker's chain, and following its event shows its path.
// Method: the simulator's small scenario with a frontend that forgets event ids (the checker test's
// planted duplicate bug) and a frontend kill, written to a trace, then indexed and rendered.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { smallScenario } from '../../sim/test-fixtures.ts';
import { runScenario, type Report } from '../../sim/index.ts';
import { coreRoles, type Roles } from '../../sim/index.ts';
import { App } from './app.tsx';
import { formatTime } from './format.ts';
import { summaryText } from './summary.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let report: Report;
let index: TraceIndex;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-real-'));
  const path = join(dir, 'buggy.jsonl');
  const noDedupe: Roles = {
    ...coreRoles,
    frontend: {
      ...coreRoles.frontend,
      handle: (state, input, now) => {
        state.history.clear();
        return coreRoles.frontend.handle(state, input, now);
      },
    },
  };
  const scenario = smallScenario({
    duplicatePerMillion: 200_000,
    faults: [{ kind: 'kill', atMs: 3_000, node: 'dc-a/frontend-2', restartAfterMs: 2_000 }],
  });
  report = runScenario(scenario, '3', { tracePath: path, roles: noDedupe });
  index = new TraceIndex(path, { checkpointEvery: 500 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replay of a real simulator trace with violations', () => {
  it('indexes the run as the report saw it', () => {
    expect(report.violations.length).toBeGreaterThan(0);
    expect(index.violations).toHaveLength(report.violations.length);
    expect(index.faults.map((f) => f.fault.kind)).toEqual(['kill']);
    const end = index.stateAt(index.endT).counters;
    expect(end.published).toBe(report.published);
    // Exact, although the checker writes only the first violations of each invariant to the trace.
    expect(report.duplicates).toBeGreaterThan(index.violations.length);
    expect(end.duplicates).toBe(report.duplicates);
    expect(end.delivered).toBe(report.delivered);
    expect(end.lostExplained).toBe(report.lost.explained);
    expect(end.lostUnexplained).toBe(report.lost.unexplained);
    expect(end.violations).toBe(report.violations.length);
  });

  it('the summary lists every violation with its chain', () => {
    const text = summaryText(index);
    expect(text).toContain(`Violations (${report.violations.length}):`);
    expect(text).toContain(report.violations[0]!.chain[0]!);
    expect(text).toContain('kill dc-a/frontend-2');
  });

  it('n jumps to the first violation: its time, its event followed, the checker chain', async () => {
    const screen = render(<App index={index} width={120} height={40} />);
    try {
      screen.stdin.write('n');
      const first = index.violations[0]!;
      await vi.waitFor(() => expect(screen.lastFrame()).toContain(`Violation 1/${index.violations.length}`), {
        timeout: 3000,
      });
      const text = screen.lastFrame()!;
      expect(text).toContain(`${formatTime(first.t)} /`);
      expect(text).toContain(first.violation.invariant);
      expect(text).toContain(first.violation.chain[0]!.slice(0, 60));
      expect(text).toContain(`Follow ${first.violation.e}`);
      // The path of the event as the trace has it follows the chain (scroll down to reach it).
      const path = index.follow(first.violation.e!);
      expect(path.found).toBe(true);
      expect(path.steps[0]!.text).toMatch(/^published on /);
      expect(path.steps.some((step) => /delivered to \d+ connection/.test(step.text))).toBe(true);
    } finally {
      screen.unmount();
    }
  });
});
