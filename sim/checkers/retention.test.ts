// Goal: the checkers' memory stays bounded however long the run (each event is followed whole only
// for its retention), and the retention changes no verdict: every count, violation, chain and
// latency is what checkers that forget nothing conclude.
// Method: runs judged at once by default checkers and by checkers that keep every event forever;
// a long run sampled for what the checkers hold, which grows without the retention; a receipt
// planted past its event's retention shows what the retention gives up.
import { describe, expect, it } from 'vitest';
import type { Fact } from '../facts.ts';
import { plantedBugs, rolesWithBug } from '../planted-bugs.ts';
import { loadScenario, withoutAmbientNondeterminism } from '../run.ts';
import type { Scenario } from '../scenario.ts';
import { plantedBugScenario, smallScenario } from '../test-fixtures.ts';
import { runWorld, type Roles } from '../world/index.ts';
import { Checkers, eventRetentionUs, type CheckersHeld } from './index.ts';

function factsOf(scenario: Scenario, seed: string, roles?: Roles): Fact[] {
  const facts: Fact[] = [];
  withoutAmbientNondeterminism(() =>
    runWorld(scenario, seed, {
      facts: [(fact) => facts.push(fact)],
      ...(roles === undefined ? {} : { roles }),
    }),
  );
  return facts;
}

function judge(facts: Iterable<Fact>, retainEventsForever: boolean): Checkers {
  const checkers = new Checkers(() => {}, { retainEventsForever });
  for (const fact of facts) checkers.apply(fact);
  return checkers;
}

/** The planted-bug scenario of scripts/trace-baseline.ts. */
const planted = plantedBugScenario();

/** The flagship with a tenth of its viewers: its late resumes come closest to the retention. */
function flagship(): Scenario {
  const scenario = loadScenario('live-video');
  const topics = scenario.workload.topics.map((topic) => ({
    ...topic,
    viewers: Math.ceil(topic.viewers / 10),
  }));
  return { ...scenario, workload: { ...scenario.workload, topics } };
}

describe('event retention', () => {
  const runs: [string, () => Fact[]][] = [
    ...plantedBugs.map((bug): [string, () => Fact[]] => [
      `planted bug ${bug}`,
      () => factsOf(planted, '7', rolesWithBug(bug)),
    ]),
    ['the flagship, seed 2', () => factsOf(flagship(), '2')],
  ];
  it.each(runs)(
    '%s: the same summary, violation for violation, as checkers that forget nothing',
    (_, run) => {
      const facts = run();
      const retaining = judge(facts, false);
      const forever = judge(facts, true);
      expect(retaining.summary()).toEqual(forever.summary());
      const held = retaining.held();
      expect(held.retired).toBeGreaterThan(0);
      expect(held.pastRetention).toBe(0);
    },
  );

  it('a long run: what the checkers hold per event levels off, and without the retention it keeps growing', () => {
    // Viewers churn but keep their connections: a bit set spans the connection numbers it names,
    // and those grow with every reconnect, per connection rather than per event.
    const scenario = smallScenario({
      durationMs: 90_000,
      churnPerViewerPerMinute: 6,
      duplicatePerMillion: 2_000,
      faults: [{ kind: 'partition', atMs: 20_000, between: ['dc-a', 'dc-b'], repairAfterMs: 2_000 }],
    });
    const facts = factsOf(scenario, '5');
    const sample = (checkers: Checkers): CheckersHeld[] => {
      const samples: CheckersHeld[] = [];
      for (const [i, fact] of facts.entries()) {
        checkers.apply(fact);
        if (i % 500 === 499) samples.push(checkers.held());
      }
      return samples;
    };
    /** Whether each measure's peak in the second half stays within a quarter of its peak in the first. */
    const levelsOff = (samples: CheckersHeld[]): Record<string, boolean> => {
      const half = Math.floor(samples.length / 2);
      const measures = ['followed', 'recipientBytes', 'chainSteps', 'forwardAttempts'] as const;
      return Object.fromEntries(
        measures.map((measure) => {
          const peak = (from: number, to: number): number =>
            Math.max(...samples.slice(from, to).map((held) => held[measure]));
          return [measure, peak(half, samples.length) <= peak(1, half) * 1.25];
        }),
      );
    };
    const retaining = sample(new Checkers());
    expect(retaining.length).toBeGreaterThan(20);
    expect(levelsOff(retaining)).toEqual({
      followed: true,
      recipientBytes: true,
      chainSteps: true,
      forwardAttempts: true,
    });
    // A hard bound from the scenario: the events of one deadline and one retention, half again for
    // bursts of publishes.
    const publishesPerSecond = scenario.workload.topics.reduce(
      (sum, topic) => sum + topic.publishesPerSecond,
      0,
    );
    const windowS = (scenario.deliveryDeadlineMs * 1000 + eventRetentionUs(scenario)) / 1e6;
    expect(Math.max(...retaining.map((held) => held.followed))).toBeLessThanOrEqual(
      publishesPerSecond * windowS * 1.5,
    );
    expect(retaining.at(-1)!.retired).toBeGreaterThan(publishesPerSecond * 60);
    // The same measure, without the retention, sees every kind of state grow with the run.
    expect(levelsOff(sample(new Checkers(() => {}, { retainEventsForever: true })))).toEqual({
      followed: false,
      recipientBytes: false,
      chainSteps: false,
      forwardAttempts: false,
    });
  });

  it("a receipt past its event's retention is judged against a forgotten history, and counted as such", () => {
    const facts = factsOf(smallScenario({ durationMs: 12_000 }), '3');
    const end = facts.at(-1) as Extract<Fact, { kind: 'end' }>;
    const first = facts.find((fact) => fact.kind === 'batch-received')!;
    // The same batch again at the very end, long after its event's retention.
    const late = [...facts.slice(0, -1), { ...first, t: end.t }, end];
    const retaining = judge(late, false);
    const forever = judge(late, true);
    expect(forever.summary().duplicates).toBe(first.connections.length);
    expect(retaining.summary().duplicates).toBe(0);
    expect(retaining.summary().delivered).toBe(forever.summary().delivered + first.connections.length);
    expect(retaining.held().pastRetention).toBe(1);
  });
});
