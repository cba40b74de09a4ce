// Goal: an application's own invariants, checked over scenarios that fast-check generates: how a
// user of the package tests their deployment's shape against Stadium's simulator.
// Method: vary a named scenario (datacenters, frontends, viewers, publish rates, the cross-datacenter
// latency, a frontend killed mid-run), run each through `stadium/sim`, and assert on the report:
// the simulator's own checkers held, and this application's latency budget and loss rules too.
//
// Outside this repository the imports are the same: `npm install stadium fast-check vitest`.
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { loadScenario, runScenario } from 'stadium/sim';
import type { Fault, InvariantName, Report, Scenario } from 'stadium/sim';

/** The application's deployment shapes: one or two datacenters, a few nodes, a few hundred viewers. */
const deployment = fc.record({
  datacenters: fc.integer({ min: 1, max: 2 }),
  frontends: fc.integer({ min: 1, max: 3 }),
  dispatchers: fc.integer({ min: 1, max: 2 }),
  viewers: fc.integer({ min: 1, max: 200 }),
  publishesPerSecond: fc.integer({ min: 1, max: 20 }),
  crossDcLatencyMs: fc.integer({ min: 5, max: 80 }),
  seed: fc.nat(1_000_000).map(String),
});
type Deployment = typeof deployment extends fc.Arbitrary<infer T> ? T : never;

/** The `fault-free` scenario that ships with Stadium, reshaped to a generated deployment. */
function scenarioOf(d: Deployment, faults: Fault[] = []): Scenario {
  const base = loadScenario('fault-free');
  const names = ['dc-a', 'dc-b'].slice(0, d.datacenters);
  return {
    ...base,
    name: 'my-deployment',
    durationMs: 8_000,
    topology: {
      datacenters: names.map((name) => ({ name, frontends: d.frontends, dispatchers: d.dispatchers })),
    },
    network: {
      ...base.network,
      crossDc: { ...base.network.crossDc, latency: { baseUs: d.crossDcLatencyMs * 1_000, jitterUs: 5_000 } },
    },
    workload: {
      ...base.workload,
      topics: [
        {
          name: 'match:42',
          viewers: d.viewers,
          publishesPerSecond: d.publishesPerSecond,
          burstMs: 0,
          quietMs: 0,
        },
      ],
    },
    faults,
  };
}

/** Latency budget: same-datacenter deliveries within 50 ms at p99, others within the link's latency more. */
function withinBudget(report: Report, d: Deployment): boolean {
  return (
    report.latencyMsSameDc.p99 <= 50 &&
    (d.datacenters === 1 || report.latencyMsCrossDc.p99 <= 50 + d.crossDcLatencyMs + 5)
  );
}

describe('my deployment, simulated', () => {
  it('without faults: every viewer gets every event, within the latency budget', () => {
    fc.assert(
      fc.property(deployment, (d) => {
        const report = runScenario(scenarioOf(d), d.seed, { tracePath: null });
        expect(report.violations).toEqual([]);
        expect(report.lost).toEqual({ explained: 0, unexplained: 0, byCause: {} });
        expect(report.delivered).toBeGreaterThanOrEqual(report.expected);
        expect(withinBudget(report, d)).toBe(true);
      }),
      { numRuns: 6 },
    );
  });

  it('a frontend killed mid-run: the checkers hold and every loss has a cause', () => {
    const killed = fc.record({
      atMs: fc.integer({ min: 2_500, max: 6_000 }),
      restartAfterMs: fc.integer({ min: 200, max: 2_000 }),
    });
    fc.assert(
      fc.property(deployment, killed, (d, kill) => {
        const fault: Fault = {
          kind: 'kill',
          atMs: kill.atMs,
          node: 'dc-a/frontend-1',
          restartAfterMs: kill.restartAfterMs,
        };
        const report = runScenario(scenarioOf(d, [fault]), d.seed, { tracePath: null });
        expect(report.ok).toBe(true);
        expect(report.lost.unexplained).toBe(0);
        expect(report.faults.kill).toBe(1);
      }),
      { numRuns: 6 },
    );
  });

  it('the report is typed: invariant names are a closed set', () => {
    expectTypeOf<Report['violationCounts']>().toEqualTypeOf<Record<InvariantName, number>>();
    expectTypeOf(runScenario).parameter(0).toEqualTypeOf<Scenario>();
  });
});
