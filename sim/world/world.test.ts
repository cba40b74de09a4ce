// Goal: each fault type does what it says and every loss it causes is explained by it; runs are
// pure functions of (scenario, seed). Method: run small scenarios, read the report and the trace.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Fault, Scenario } from '../scenario.ts';
import { smallScenario } from '../test-fixtures.ts';
import { runScenario, withoutAmbientNondeterminism, type Report } from '../run.ts';
import type { TraceRecord } from '../trace.ts';
import { coreRoles } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'stadium-world-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(scenario: Scenario, seed = '7'): { report: Report; records: TraceRecord[] } {
  const tracePath = join(dir, `${scenario.name}-${seed}-${Math.random().toString(36).slice(2)}.jsonl`);
  const report = runScenario(scenario, seed, { tracePath });
  const records = readFileSync(tracePath, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as TraceRecord);
  return { report, records };
}

const of = <K extends TraceRecord['k']>(records: TraceRecord[], k: K) =>
  records.filter((r): r is Extract<TraceRecord, { k: K }> => r.k === k);

function expectNoViolations(report: Report): void {
  expect(report.violations.map((v) => v.message)).toEqual([]);
  expect(report.lost.unexplained).toBe(0);
  expect(report.duplicates).toBe(0);
  expect(report.misdeliveries).toBe(0);
}

describe('determinism', () => {
  it('the same seed twice gives a byte-identical trace; another seed gives another', () => {
    const scenario = smallScenario({
      churnPerViewerPerMinute: 3,
      faults: [{ kind: 'kill', atMs: 4_000, node: 'dc-a/frontend-1', restartAfterMs: 2_000 }],
    });
    const a = runScenario(scenario, '11', { tracePath: join(dir, 'a.jsonl') });
    const b = runScenario(scenario, '11', { tracePath: join(dir, 'b.jsonl') });
    const c = runScenario(scenario, '12', { tracePath: null });
    expect(a.traceHash).toBe(b.traceHash);
    expect(readFileSync(join(dir, 'a.jsonl')).equals(readFileSync(join(dir, 'b.jsonl')))).toBe(true);
    expect(c.traceHash).not.toBe(a.traceHash);
    expect(a.traceHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the fault stream is independent of the workload: more viewers, same drawn faults', () => {
    const randomFaults = {
      killsPerMinute: 20,
      partitionsPerMinute: 20,
      isolationsPerMinute: 10,
      jitterStormsPerMinute: 10,
      lossBurstsPerMinute: 10,
      durationMs: { min: 200, max: 2_000 },
    };
    const faultsOf = (viewers: number) =>
      of(run(smallScenario({ viewers, randomFaults }), '5').records, 'fault')
        .filter((r) => r.phase === 'start')
        .map((r) => r.fault);
    const few = faultsOf(30);
    expect(few.length).toBeGreaterThan(5);
    expect(new Set(few.map((f) => f.kind)).size).toBeGreaterThan(2);
    expect(faultsOf(90)).toEqual(few);
  });

  it('a role that reads the real clock during a run fails loudly', () => {
    const leaky = {
      ...coreRoles,
      frontend: {
        ...coreRoles.frontend,
        deadline: (s: Parameters<typeof coreRoles.frontend.deadline>[0]) =>
          Date.now() > 0 ? coreRoles.frontend.deadline(s) : null,
      },
    };
    expect(() => runScenario(smallScenario(), '1', { tracePath: null, roles: leaky })).toThrow(
      /Date\.now was called during a simulation run/,
    );
    expect(() => withoutAmbientNondeterminism(() => Math.random())).toThrow(/Math\.random/);
    expect(typeof Date.now()).toBe('number'); // restored afterwards
  });
});

describe('scenarios, one per fault type', () => {
  it('no faults: every subscribed connection receives every event within the deadline', () => {
    const { report } = run(smallScenario({ churnPerViewerPerMinute: 4 }));
    expectNoViolations(report);
    expect(report.published).toBeGreaterThan(50);
    expect(report.expected).toBeGreaterThan(1_000);
    expect(report.lost.explained).toBe(0);
    expect(report.delivered).toBeGreaterThanOrEqual(report.expected);
  });

  it('kill dc-a/frontend-1: its viewers reconnect elsewhere and resume; losses are explained by the death', () => {
    const kill: Fault = { kind: 'kill', atMs: 4_000, node: 'dc-a/frontend-1', restartAfterMs: 3_000 };
    const { report, records } = run(smallScenario({ faults: [kill] }));
    expectNoViolations(report);
    expect(report.faults.kill).toBe(1);
    const closed = of(records, 'conn').filter((r) => r.op === 'close' && r.node === 'dc-a/frontend-1');
    expect(closed.length).toBeGreaterThan(5);
    // Every viewer that lost its connection opened a new one on the other frontend.
    const reopened = of(records, 'conn').filter(
      (r) => r.op === 'open' && r.t > 4_000_000 && closed.some((c) => c.v === r.v),
    );
    expect(new Set(reopened.map((r) => r.v)).size).toBe(new Set(closed.map((r) => r.v)).size);
    expect(reopened.every((r) => r.node === 'dc-a/frontend-2')).toBe(true);
    expect(of(records, 'node').map((r) => `${r.node} ${r.op}`)).toEqual([
      'dc-a/frontend-1 down',
      'dc-a/frontend-1 up',
    ]);
  });

  it('kill a dispatcher: registrations and forwards fail over, and nothing is lost unexplained', () => {
    const { report, records } = run(
      smallScenario({
        faults: [{ kind: 'kill', atMs: 3_000, node: 'dc-b/dispatcher-1', restartAfterMs: 4_000 }],
      }),
    );
    expectNoViolations(report);
    // Messages in flight to the dead dispatcher were dropped, and later traffic went to dispatcher-2.
    expect(of(records, 'drop').some((r) => r.why === 'target-dead')).toBe(true);
    const forwardsDuring = of(records, 'send').filter(
      (r) => r.type === 'forward' && r.to.startsWith('dc-b/') && r.t > 4_000_000 && r.t < 7_000_000,
    );
    expect(forwardsDuring.length).toBeGreaterThan(5);
    expect(report.delivered).toBeGreaterThan(0.9 * report.expected);
  });

  it('kill dc-b/store: dc-b misses events until it restarts and frontends re-register; every loss is explained by the store death', () => {
    const { report, records } = run(
      smallScenario({ faults: [{ kind: 'kill', atMs: 4_000, node: 'dc-b/store', restartAfterMs: 2_000 }] }),
    );
    expectNoViolations(report);
    expect(report.lost.byCause['store-death']).toBeGreaterThan(0);
    const losses = of(records, 'loss');
    const published = new Map(of(records, 'publish').map((r) => [r.e, r.t]));
    // Losses only for events published while the store was down or before leases were renewed (1.5 s renewals).
    for (const loss of losses) expect(published.get(loss.e)).toBeGreaterThanOrEqual(4_000_000 - 2_000_000);
    for (const loss of losses) expect(published.get(loss.e)).toBeLessThan(6_000_000 + 1_500_000 + 500_000);
    expect(
      of(records, 'lease').filter((r) => r.dc === 'dc-b' && r.change === 'granted' && r.t > 6_000_000).length,
    ).toBeGreaterThan(0);
  });

  it('partition dc-a | dc-b (symmetric): publish in dc-a reaches only dc-a viewers', () => {
    const { report, records } = run(
      smallScenario({
        faults: [{ kind: 'partition', atMs: 3_000, between: ['dc-a', 'dc-b'], repairAfterMs: 3_000 }],
      }),
    );
    expectNoViolations(report);
    const origin = new Map(of(records, 'publish').map((r) => [r.e, r]));
    // Events published in dc-a whose every forward attempt (3 x 300 ms) falls inside the partition stay in dc-a.
    const inside = (e: string) => {
      const p = origin.get(e)!;
      return p.origin === 'dc-a' && p.t > 3_000_000 && p.t < 6_000_000 - 900_000;
    };
    const delivered = of(records, 'deliver').filter((r) => inside(r.e));
    expect(delivered.length).toBeGreaterThan(5);
    expect(delivered.every((r) => r.node.startsWith('dc-a/'))).toBe(true);
    expect(report.lost.byCause.partition).toBeGreaterThan(0);
    // After the repair, dc-a's events reach dc-b again.
    expect(
      of(records, 'deliver').some(
        (r) =>
          origin.get(r.e)!.origin === 'dc-a' && origin.get(r.e)!.t > 6_100_000 && r.node.startsWith('dc-b/'),
      ),
    ).toBe(true);
  });

  it('partition dc-b -> dc-a (one way): dc-a publishes still reach dc-b, dc-b publishes do not reach dc-a, and lost acks make no duplicates', () => {
    const { report, records } = run(
      smallScenario({
        faults: [
          { kind: 'partition', atMs: 3_000, between: ['dc-b', 'dc-a'], oneWay: true, repairAfterMs: 3_000 },
        ],
      }),
    );
    expectNoViolations(report);
    const origin = new Map(of(records, 'publish').map((r) => [r.e, r]));
    const during = of(records, 'deliver').filter(
      (r) => origin.get(r.e)!.t > 3_100_000 && origin.get(r.e)!.t < 5_800_000,
    );
    expect(during.some((r) => origin.get(r.e)!.origin === 'dc-a' && r.node.startsWith('dc-b/'))).toBe(true);
    expect(during.some((r) => origin.get(r.e)!.origin === 'dc-b' && r.node.startsWith('dc-a/'))).toBe(false);
    // dc-a's forwards were retried because dc-b's acks could not come back.
    expect(of(records, 'drop').filter((r) => r.why === 'partition').length).toBeGreaterThan(0);
  });

  it('isolate dc-a/frontend-2: its leases expire and no dispatcher sends to it after that (lease hygiene)', () => {
    const { report, records } = run(
      smallScenario({
        durationMs: 12_000,
        faults: [{ kind: 'isolate', atMs: 3_000, node: 'dc-a/frontend-2', releaseAfterMs: 7_000 }],
      }),
    );
    expectNoViolations(report);
    const expired = of(records, 'lease').filter((r) => r.fe === 'dc-a/frontend-2' && r.change === 'expired');
    expect(expired.length).toBeGreaterThan(0);
    const lastExpiry = Math.max(...expired.map((r) => r.exp ?? r.t));
    const sendsAfter = of(records, 'send').filter(
      (r) =>
        r.type === 'deliver' && r.to === 'dc-a/frontend-2' && r.t > lastExpiry + 200_000 && r.t < 10_000_000,
    );
    expect(sendsAfter).toEqual([]);
    expect(report.lost.byCause['frontend-isolation']).toBeGreaterThan(0);
  });

  it('jitter storm: deliveries slow down, and every one that misses the deadline is explained by the storm', () => {
    const storm: Fault = {
      kind: 'jitter-storm',
      atMs: 3_000,
      durationMs: 3_000,
      extraLatency: { baseUs: 300_000, jitterUs: 400_000 },
    };
    const { report } = run(smallScenario({ faults: [storm] }));
    expectNoViolations(report);
    expect(report.latencyMs.max).toBeGreaterThan(500);
    expect(Object.keys(report.lost.byCause)).toEqual(['jitter-storm']);
  });

  it('loss burst in dc-b: dropped messages cost deliveries, all explained by the burst', () => {
    const { report, records } = run(
      smallScenario({
        faults: [{ kind: 'loss-burst', atMs: 3_000, durationMs: 3_000, lossPerMillion: 300_000, dc: 'dc-b' }],
      }),
    );
    expectNoViolations(report);
    expect(of(records, 'drop').filter((r) => r.why === 'loss' && r.f === 1).length).toBeGreaterThan(10);
    expect(report.lost.byCause['loss-burst']).toBeGreaterThan(0);
  });

  it('random loss and duplication on every link: losses are explained, duplicates never reach a connection', () => {
    const { report } = run(smallScenario({ lossPerMillion: 20_000, duplicatePerMillion: 100_000 }));
    expectNoViolations(report);
    expect(report.messages.duplicated).toBeGreaterThan(20);
    expect(report.lost.byCause['message-loss'] ?? 0).toBeGreaterThan(0);
  });
});
