// Goal: every named scenario is valid, and a bad scenario is refused with every problem named by its path.
import { describe, expect, it } from 'vitest';
import { loadScenario, namedScenarios } from './run.ts';
import { parseScenario } from './scenario-parse.ts';
import { defaultRoles, reliableRoleSettings, ScenarioError } from './scenario.ts';

function issuesOf(value: unknown): string[] {
  try {
    parseScenario(value, 'test.json');
  } catch (error) {
    if (error instanceof ScenarioError) return error.issues;
    throw error;
  }
  return [];
}

const valid = {
  name: 'ok',
  durationMs: 1_000,
  topology: { datacenters: [{ name: 'dc-a', frontends: 1, dispatchers: 1 }] },
  workload: { topics: [{ name: 't', viewers: 1, publishesPerSecond: 1 }] },
};

describe('scenarios', () => {
  it('ships the flagship and one scenario per fault type, all valid', () => {
    const names = namedScenarios();
    for (const name of [
      'live-video',
      'frontend-death',
      'dispatcher-death',
      'store-death',
      'dc-partition',
      'jitter-storm',
    ]) {
      expect(names).toContain(name);
    }
    for (const name of names) expect(loadScenario(name).name).toBe(name);
    const flagship = loadScenario('live-video');
    expect(flagship.topology.datacenters).toHaveLength(3);
    expect(flagship.workload.topics.reduce((sum, t) => sum + t.viewers, 0)).toBeGreaterThanOrEqual(10_000);
    expect(flagship.faults.map((f) => f.kind).sort()).toEqual(['kill', 'kill', 'partition']);
  });

  it('a minimal scenario gets defaults for everything else', () => {
    const scenario = parseScenario(valid, 'x');
    expect(scenario.deliveryDeadlineMs).toBe(1_000);
    expect(scenario.faults).toEqual([]);
    expect(scenario.network.crossDc.latency.baseUs).toBeGreaterThan(0);
  });

  it('names each bad field by its path', () => {
    const issues = issuesOf({
      ...valid,
      durationMs: -5,
      extra: true,
      topology: { datacenters: [{ name: 'dc-a', frontends: 0, dispatchers: 1 }] },
      workload: { topics: [{ name: 'bad topic', viewers: 'many', publishesPerSecond: 1 }] },
      roles: { leaseMs: 100, renewEveryMs: 200, bogus: 1 },
      faults: [
        { kind: 'kill', atMs: 10, node: 'dc-z/frontend-1' },
        { kind: 'partition', atMs: 10, between: ['dc-a', 'dc-a'], repairAfterMs: 5 },
        { kind: 'meteor', atMs: 1 },
      ],
    });
    const expected = [
      /^durationMs: must be between 1 and/,
      /^topology\.datacenters\[0\]\.frontends: must be between 1 and 256 \(got 0\)/,
      /^workload\.topics\[0\]\.name: "bad topic" does not match/,
      /^workload\.topics\[0\]\.viewers: must be an integer \(got "many"\)/,
      /^roles\.bogus: unknown field/,
      /^roles\.renewEveryMs: must be shorter than roles\.leaseMs/,
      /^faults\[0\]\.node: unknown node "dc-z\/frontend-1"/,
      /^faults\[1\]\.between: a datacenter cannot be partitioned from itself/,
      /^faults\[2\]\.kind: must be one of kill, partition, isolate, jitter-storm, loss-burst \(got "meteor"\)/,
      /^extra: unknown field/,
    ];
    for (const pattern of expected)
      expect(
        issues.some((issue) => pattern.test(issue)),
        String(pattern),
      ).toBe(true);
  });

  it('refuses an unknown field at every depth, naming its path and the close match', () => {
    // A misspelt optional field would otherwise be ignored and its default silently used: a
    // killed node that never restarts, a latency left at the default.
    const issues = issuesOf({
      ...valid,
      topology: { datacenters: [{ name: 'dc-a', frontends: 1, dispatchers: 1, frontend: 2 }] },
      network: {
        clent: {},
        intraDc: { latency: { baseUS: 100 }, lossPerMilion: 5 },
      },
      workload: {
        topics: [{ name: 't', viewrs: 3, viewers: 1, publishesPerSecond: 1 }],
        topicz: [],
        reconnectBackoffMs: { min: 1, max: 2, mean: 1 },
      },
      roles: { leaseMS: 6_000, frontendLimits: { connectionMax: 5 } },
      faults: [
        { kind: 'kill', atMs: 10, node: 'dc-a/frontend-1', restartAftrMs: 100 },
        { kind: 'kill', atMs: 10, node: 'dc-a/frontend-1', dc: 'dc-a' },
        { kind: 'jitter-storm', atMs: 1, durationMs: 5, extraLatency: { baseUs: 1, jiterUs: 2 } },
      ],
      randomFaults: { killPerMinute: 1, durationMs: { min: 1, max: 2, avg: 1 } },
    });
    const expected = [
      /^topology\.datacenters\[0\]\.frontend: unknown field; did you mean frontends\?/,
      /^network\.clent: unknown field; did you mean client\? \(known: client, intraDc, crossDc\)/,
      /^network\.intraDc\.latency\.baseUS: unknown field; did you mean baseUs\?/,
      /^network\.intraDc\.lossPerMilion: unknown field; did you mean lossPerMillion\?/,
      /^workload\.topics\[0\]\.viewrs: unknown field; did you mean viewers\?/,
      /^workload\.topicz: unknown field; did you mean topics\?/,
      /^workload\.reconnectBackoffMs\.mean: unknown field \(known: min, max\)/,
      /^roles\.leaseMS: unknown field; did you mean leaseMs\?/,
      /^roles\.frontendLimits\.connectionMax: unknown field; did you mean connectionsMax\?/,
      /^faults\[0\]\.restartAftrMs: unknown field; did you mean restartAfterMs\? \(known: kind, atMs, node, restartAfterMs\)/,
      /^faults\[1\]\.dc: unknown field \(known: kind, atMs, node, restartAfterMs\)/,
      /^faults\[2\]\.extraLatency\.jiterUs: unknown field; did you mean jitterUs\?/,
      /^randomFaults\.killPerMinute: unknown field; did you mean killsPerMinute\?/,
      /^randomFaults\.durationMs\.avg: unknown field \(known: min, max\)/,
    ];
    for (const pattern of expected)
      expect(
        issues.some((issue) => pattern.test(issue)),
        `${String(pattern)} in:\n${issues.join('\n')}`,
      ).toBe(true);
    // Besides these, only the missing field that the misspelt one was meant to be.
    expect(issues.filter((issue) => !expected.some((pattern) => pattern.test(issue)))).toEqual([
      'network.intraDc.latency.baseUs: must be an integer (got nothing)',
    ]);
  });

  it('roles.frontendLimits takes the named limits as positive integers', () => {
    const scenario = parseScenario({ ...valid, roles: { frontendLimits: { connectionsMax: 50 } } }, 'x');
    expect(scenario.roles.frontendLimits).toEqual({ connectionsMax: 50 });
    expect(issuesOf({ ...valid, roles: { frontendLimits: { connectionsMax: 0 } } })).toEqual([
      'roles.frontendLimits.connectionsMax: must be between 1 and 1000000000 (got 0)',
    ]);
  });

  it('the mode is best-effort unless the scenario says reliable; anything else is refused', () => {
    expect(parseScenario(valid, 'x').mode).toBe('best-effort');
    expect(parseScenario({ ...valid, mode: 'reliable' }, 'x').mode).toBe('reliable');
    expect(parseScenario({ ...valid, mode: 'best-effort' }, 'x').mode).toBe('best-effort');
    expect(issuesOf({ ...valid, mode: 'exactly-once' })).toEqual([
      'mode: must be one of best-effort, reliable (got "exactly-once")',
    ]);
    expect(issuesOf({ ...valid, mode: 1 })).toEqual(['mode: must be one of best-effort, reliable (got 1)']);
    expect(issuesOf({ ...valid, mdoe: 'reliable' })[0]).toMatch(/^mdoe: unknown field; did you mean mode\?/);
  });

  it("reliable mode's role settings have defaults and are positive integers", () => {
    const roles = parseScenario(valid, 'x').roles;
    for (const key of reliableRoleSettings) {
      expect(roles[key], key).toBe(defaultRoles[key]);
      expect(defaultRoles[key], key).toBeGreaterThan(0);
    }
    const tuned = parseScenario(
      { ...valid, roles: { deliverTimeoutMs: 80, deliverAttemptsMax: 5, gapWaitMs: 10 } },
      'x',
    ).roles;
    expect([tuned.deliverTimeoutMs, tuned.deliverAttemptsMax, tuned.gapWaitMs]).toEqual([80, 5, 10]);
    expect(tuned.forwardWindowMs).toBe(defaultRoles.forwardWindowMs);
    expect(issuesOf({ ...valid, roles: { forwardAckWaitMs: 0, readTimeoutMs: 'soon' } })).toEqual([
      'roles.forwardAckWaitMs: must be between 1 and 3600000 (got 0)',
      'roles.readTimeoutMs: must be an integer (got "soon")',
    ]);
  });

  it("roles.storeLimits takes the histories' limits; a history must find every event it holds by id", () => {
    const limits = { historyEventsMax: 5, historyAgeMs: 2_000, historyIdsMax: 20, readEventsMax: 3 };
    expect(parseScenario({ ...valid, roles: { storeLimits: limits } }, 'x').roles.storeLimits).toEqual(
      limits,
    );
    expect(issuesOf({ ...valid, roles: { storeLimits: { historyEventsMax: 0, historyAgeMs: 0 } } })).toEqual([
      'roles.storeLimits.historyEventsMax: must be between 1 and 1000000000 (got 0)',
      'roles.storeLimits.historyAgeMs: must be between 1 and 1000000000 (got 0)',
    ]);
    expect(
      issuesOf({ ...valid, roles: { storeLimits: { historyEventsMax: 50, historyIdsMax: 10 } } }),
    ).toEqual([
      'roles.storeLimits.historyIdsMax: must be at least historyEventsMax (10 < 50): a history finds every event it holds by its id',
    ]);
    // Against the default of the other: a count bound above the default ids bound is refused too.
    expect(issuesOf({ ...valid, roles: { storeLimits: { historyEventsMax: 10_000 } } })).toHaveLength(1);
    // Durations a store may keep for no time at all stay allowed at 0.
    expect(issuesOf({ ...valid, roles: { storeLimits: { tombstoneMs: 0, lapsedKeepMs: 0 } } })).toEqual([]);
  });

  it('viewer counts: an interval (0 turns them off) and one watcher in N viewers (0: none), whole numbers', () => {
    const scenario = parseScenario(valid, 'x');
    expect(scenario.roles.occupancyEveryMs).toBe(1_000);
    expect(scenario.workload.occupancyWatchersEvery).toBe(10);
    const off = parseScenario(
      {
        ...valid,
        roles: { occupancyEveryMs: 0 },
        workload: { ...valid.workload, occupancyWatchersEvery: 0 },
      },
      'x',
    );
    expect([off.roles.occupancyEveryMs, off.workload.occupancyWatchersEvery]).toEqual([0, 0]);
    expect(
      issuesOf({
        ...valid,
        roles: { occupancyEveryMs: -1 },
        workload: { ...valid.workload, occupancyWatchersEvery: 2.5 },
      }),
    ).toEqual([
      'workload.occupancyWatchersEvery: must be an integer (got 2.5)',
      'roles.occupancyEveryMs: must be between 0 and 3600000 (got -1)',
    ]);
    expect(issuesOf({ ...valid, roles: { occupancyEvryMs: 500 } })[0]).toMatch(
      /^roles\.occupancyEvryMs: unknown field; did you mean occupancyEveryMs\?/,
    );
  });

  it('refuses what is not an object, and says so', () => {
    expect(issuesOf([1, 2])).toEqual(['(top level): must be an object (got an array)']);
    expect(issuesOf(null)).toEqual(['(top level): must be an object (got null)']);
  });

  it('a missing file or malformed JSON is a ScenarioError that names the file', () => {
    expect(() => loadScenario('/nonexistent/x.json')).toThrow(/no such scenario file.*named: .*live-video/);
    expect(() => loadScenario('no-such-name')).toThrow(ScenarioError);
    expect(() => loadScenario('package.json')).toThrow(/package\.json: invalid scenario/);
  });
});
