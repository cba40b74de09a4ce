// Goal: every named scenario is valid, and a bad scenario is refused with every problem named by its path.
import { describe, expect, it } from 'vitest';
import { loadScenario, namedScenarios } from './run.ts';
import { parseScenario, ScenarioError } from './scenario.ts';

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
      /^roles\.bogus: unknown setting/,
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
