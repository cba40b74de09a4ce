// Goal: the checker is trusted only because it fails: each planted bug in a copy of a role is
// reported under the invariant it breaks, naming the event, the connection and the causal chain.
// Method: run small scenarios with a buggy role (sim/planted-bugs.ts) and read the report.
import { describe, expect, it } from 'vitest';
import { parseScenario } from './scenario-parse.ts';
import { smallScenario } from './test-fixtures.ts';
import { rolesWithBug } from './planted-bugs.ts';
import { runScenario, type Report } from './run.ts';
import { itemBudget } from './budget.ts';
import type { InvariantName } from './checkers/index.ts';

function violationsOf(report: Report, invariant: InvariantName) {
  return report.violations.filter((v) => v.invariant === invariant);
}

describe('checker, against planted bugs', () => {
  it('the correct core on the same scenarios: no violation at all', () => {
    const report = runScenario(smallScenario({ duplicatePerMillion: 200_000 }), '3', { tracePath: null });
    expect(report.violations).toEqual([]);
    expect(report.messages.duplicated).toBeGreaterThan(50);
  });

  it('a frontend that forgets event ids (no dedupe) is caught delivering duplicates', () => {
    const report = runScenario(smallScenario({ duplicatePerMillion: 200_000 }), '3', {
      tracePath: null,
      roles: rolesWithBug('no-dedupe'),
    });
    const found = violationsOf(report, 'no-duplicates');
    expect(report.duplicates).toBeGreaterThan(0);
    expect(found[0]!.message).toMatch(/received event .* a second time/);
    expect(found[0]!.connection).toMatch(/frontend-\d#\d+$/);
    expect(found[0]!.chain[0]).toMatch(/published on "(live|chat)"/);
  });

  it('a dispatcher that ignores leases (keeps sending to every frontend it ever saw) breaks lease hygiene', () => {
    const scenario = smallScenario({ faults: [{ kind: 'kill', atMs: 3_000, node: 'dc-a/frontend-2' }] });
    expect(runScenario(scenario, '4', { tracePath: null }).violations).toEqual([]);
    const report = runScenario(scenario, '4', { tracePath: null, roles: rolesWithBug('leases-ignored') });
    const found = violationsOf(report, 'lease-hygiene');
    expect(found[0]!.message).toMatch(
      /sent event .* to dc-a\/frontend-2, but dc-a\/frontend-2's lease on "(live|chat)" in dc-a ended/,
    );
    expect(found[0]!.node).toMatch(/^dc-a\/dispatcher-\d$/);
  });

  it('a frontend that delivers to the viewers of another topic is caught misdelivering', () => {
    const report = runScenario(smallScenario(), '5', { tracePath: null, roles: rolesWithBug('wrong-topic') });
    expect(report.misdeliveries).toBeGreaterThan(0);
    expect(violationsOf(report, 'no-misdelivery')[0]!.message).toMatch(
      /sent event .* of "(live|chat)" to .*, which is not subscribed to it there/,
    );
    // The viewers of the right topic lost the event, and nothing explains it.
    expect(violationsOf(report, 'explained-loss').length).toBeGreaterThan(0);
  });

  it('a frontend that alters payloads is caught breaking integrity', () => {
    const report = runScenario(smallScenario(), '5', {
      tracePath: null,
      roles: rolesWithBug('corrupt-payload'),
    });
    expect(report.integrityErrors).toBeGreaterThan(0);
    expect(violationsOf(report, 'integrity')[0]!.message).toMatch(/altered from what was published/);
  });

  it('a dispatcher that forwards every event twice breaks forward discipline', () => {
    const report = runScenario(smallScenario(), '7', {
      tracePath: null,
      roles: rolesWithBug('forward-twice'),
    });
    expect(violationsOf(report, 'forward-discipline')[0]!.message).toMatch(
      /forwarded event .* to dc-[ab] again 0\.000 ms after the previous attempt/,
    );
    expect(report.duplicates).toBe(0); // the frontends' dedupe hides it from viewers; only the invariant sees it
  });

  it('a frontend that never sends its unsubscribe breaks lease release', () => {
    const scenario = smallScenario({
      viewers: 6,
      churnPerViewerPerMinute: 12,
      rejoinAfterMs: 8_000,
      durationMs: 20_000,
    });
    expect(runScenario(scenario, '8', { tracePath: null }).violations).toEqual([]);
    const report = runScenario(scenario, '8', { tracePath: null, roles: rolesWithBug('unsubscribe-lost') });
    expect(violationsOf(report, 'lease-release')[0]!.message).toMatch(
      /lease on "(live|chat)" in dc-[ab] expired at .* with 0 viewer\(s\) left/,
    );
  });

  it('a dispatcher that silently skips a frontend, with no fault anywhere, breaks explained loss and fault-free liveness', () => {
    const report = runScenario(smallScenario(), '6', {
      tracePath: null,
      roles: rolesWithBug('skip-frontend'),
    });
    const loss = violationsOf(report, 'explained-loss');
    expect(report.lost.unexplained).toBeGreaterThan(0);
    expect(loss[0]!.message).toMatch(
      /never reached \d+ connection\(s\) of dc-[ab]\/frontend-1 .* nothing on its path explains it/,
    );
    expect(violationsOf(report, 'fault-free-liveness').length).toBeGreaterThan(0);
    expect(loss[0]!.chain.some((step) => step.includes('published'))).toBe(true);
  });

  it('dispatchers that relay forwards to each other run away, and the run stops at its budget', () => {
    const scenario = smallScenario({
      datacenters: 4,
      frontends: 1,
      dispatchers: 1,
      viewers: 6,
      durationMs: 4_000,
    });
    expect(runScenario(scenario, '2', { tracePath: null }).violations).toEqual([]);
    const report = runScenario(scenario, '2', { tracePath: null, roles: rolesWithBug('relay-forever') });
    const found = violationsOf(report, 'runaway');
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/stopped at [\d,]+ items, its budget/);
    expect(report.events).toBe(itemBudget(scenario));
  });

  it('a frontend that renews topics it has no viewers of is caught by lease accounting', () => {
    const scenario = smallScenario({ churnPerViewerPerMinute: 30, rejoinAfterMs: 4_000, viewers: 6 });
    expect(runScenario(scenario, '3', { tracePath: null }).violations).toEqual([]);
    const report = runScenario(scenario, '3', {
      tracePath: null,
      roles: rolesWithBug('renews-without-viewers'),
    });
    const found = violationsOf(report, 'lease-without-viewers');
    expect(report.leaseWithoutViewersErrors).toBeGreaterThan(0);
    expect(found[0]!.message).toMatch(
      /store (renewed|granted) dc-[ab]\/frontend-\d's lease on .*, but .* (has had no viewer of it since|never had)/,
    );
  });

  it('a frontend that stops renewing after a failed lease request breaks liveness after heal', () => {
    // The store is cut off long enough for a lease request to be given up; then everything heals.
    const scenario = smallScenario({
      durationMs: 14_000,
      faults: [{ kind: 'isolate', atMs: 3_000, node: 'dc-b/store', releaseAfterMs: 2_000 }],
    });
    const correct = runScenario(scenario, '4', { tracePath: null });
    expect(correct.violations).toEqual([]);
    expect(correct.liveness.eventsChecked).toBeGreaterThan(0);
    const report = runScenario(scenario, '4', {
      tracePath: null,
      roles: rolesWithBug('renewals-stop-after-failure'),
    });
    const found = violationsOf(report, 'liveness-after-heal');
    expect(found[0]!.message).toMatch(
      /after every fault had healed \(5\.000000s\) and the world had settled, never reached/,
    );
    expect(report.liveness.convergedAfterMs).toBeGreaterThan(0);
  });

  it('a dispatcher whose timer fires late is caught retrying forwards late', () => {
    const scenario = smallScenario({
      faults: [{ kind: 'partition', atMs: 3_000, between: ['dc-a', 'dc-b'], repairAfterMs: 2_000 }],
    });
    const correct = runScenario(scenario, '5', { tracePath: null });
    expect(correct.violations).toEqual([]);
    expect(correct.counters.dispatcher['forwards-retried']).toBeGreaterThan(0);
    const report = runScenario(scenario, '5', { tracePath: null, roles: rolesWithBug('late-retries') });
    expect(report.forwardTimelinessErrors).toBeGreaterThan(0);
    expect(violationsOf(report, 'timely-retry')[0]!.message).toMatch(
      /forwarded event .* to dc-[ab] at [\d.]+s without an acknowledgement, and by [\d.]+s had neither retried nor given up \(due at [\d.]+s\)/,
    );
  });

  it("a frontend whose renewals repeat its first count is caught: the watchers' counts never converge", () => {
    const scenario = smallScenario({ durationMs: 6_000 });
    expect(runScenario(scenario, '6', { tracePath: null }).violations).toEqual([]);
    const report = runScenario(scenario, '6', {
      tracePath: null,
      roles: rolesWithBug('first-count-renewed'),
    });
    const found = violationsOf(report, 'occupancy-converge');
    expect(found[0]!.message).toMatch(
      /watcher\(s\) of "(live|chat)" at dc-[ab]\/frontend-\d .* had last been told \d+ \(dc-a \d+, dc-b \d+\) at [\d.]+s, .* but \d+ connections watch it \(dc-a \d+, dc-b \d+\)/,
    );
    expect(found[0]!.chain[0]).toMatch(/the last change of "(live|chat)"/);
  });

  it("a store that counts lapsed leases keeps a dead frontend's viewers in the count past B_death", () => {
    // The store forgets a lapsed lease lapsedKeepMs (10 s) after it lapsed: a short interval makes
    // B_death end well before that, so the bug's count is there to be judged.
    const base = smallScenario({
      durationMs: 6_000,
      faults: [{ kind: 'kill', atMs: 3_000, node: 'dc-a/frontend-1' }],
    });
    const scenario = parseScenario({ ...base, roles: { ...base.roles, occupancyEveryMs: 300 } }, 'test');
    expect(runScenario(scenario, '6', { tracePath: null }).violations).toEqual([]);
    const report = runScenario(scenario, '6', {
      tracePath: null,
      roles: rolesWithBug('expired-leases-counted'),
    });
    const found = violationsOf(report, 'occupancy-converge');
    expect(found[0]!.message).toMatch(
      /but \d+ connections watch it .* dc-a\/frontend-1 died for good at 3\.000000s had to be out of every count by [\d.]+s/,
    );
  });

  it('a dispatcher that drops a stale datacenter instead of flagging it is caught dropping its share', () => {
    const scenario = smallScenario({
      durationMs: 10_000,
      faults: [{ kind: 'partition', atMs: 3_000, between: ['dc-a', 'dc-b'], repairAfterMs: 5_000 }],
    });
    const correct = runScenario(scenario, '6', { tracePath: null });
    expect(correct.violations).toEqual([]);
    expect(correct.occupancy.stale.dcs).toEqual(['dc-a', 'dc-b']);
    const report = runScenario(scenario, '6', { tracePath: null, roles: rolesWithBug('stale-dc-dropped') });
    const found = violationsOf(report, 'occupancy-stale-dropped');
    expect(found[0]!.message).toMatch(
      /told \d+ watcher\(s\) of "(live|chat)" .* without dc-[ab]'s share, which it had told as \d+ at [\d.]+s, while dc-[ab] has been cut off from dc-[ab] since 3\.000000s/,
    );
    expect(report.occupancy.stale.records).toBe(0);
  });

  it("totals that expire before their silent datacenter is stale are caught dropping its share (the core's bug before its fix)", () => {
    // A lease shorter than an interval, and a cut long enough for the staleness to come.
    const base = smallScenario({
      datacenters: 2,
      frontends: 1,
      dispatchers: 1,
      durationMs: 20_000,
      faults: [{ kind: 'partition', atMs: 3_000, between: ['dc-a', 'dc-b'], repairAfterMs: 12_000 }],
    });
    const scenario = parseScenario(
      { ...base, roles: { ...base.roles, leaseMs: 1_200, renewEveryMs: 400, occupancyEveryMs: 2_000 } },
      'test',
    );
    expect(runScenario(scenario, '1', { tracePath: null }).violations).toEqual([]);
    const report = runScenario(scenario, '1', {
      tracePath: null,
      roles: rolesWithBug('totals-expire-before-stale'),
    });
    expect(violationsOf(report, 'occupancy-stale-dropped')[0]!.message).toMatch(
      /without dc-[ab]'s share, which it had told as \d+ at [\d.]+s, while dc-[ab] has been cut off from dc-[ab] since 3\.000000s/,
    );
  });
});
