// Goal: publishers publish as their mode says. Both modes: every answer a publisher gets is one
// `answered` fact. Reliable: every publish carries its own id, outside the servers' namespace, and
// one refused for the weather or left unanswered is sent again with that id, to another live
// dispatcher, a bounded number of times, never once publishing has stopped.
// Method: small scenarios with a dispatcher cut off or a store dead; read the world's facts.
import { describe, expect, it } from 'vitest';
import { serverEventIdMarker, usOfMs, type Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Scenario } from '../scenario.ts';
import { smallScenario, type SmallScenarioOptions } from '../test-fixtures.ts';
import { runWorld, type WorldResult } from './index.ts';
import { publishAttemptsMax, publishRetryMs } from './publishers.ts';

function run(scenario: Scenario, seed = '4'): { facts: Fact[]; world: WorldResult } {
  const facts: Fact[] = [];
  const world = runWorld(scenario, seed, { facts: [(fact) => facts.push(fact)] });
  return { facts, world };
}

const reliable = (options: SmallScenarioOptions = {}): Scenario =>
  smallScenario({ mode: 'reliable', durationMs: 8_000, publishesPerSecond: 40, ...options });

/** Every publish a publisher sent: when, to whom, with which id. */
function publishSends(facts: readonly Fact[]): { t: Us; to: string; e: string | undefined }[] {
  return facts.flatMap((fact) =>
    fact.kind === 'sent' && fact.message.type === 'publish' && fact.message.from.endsWith('/publisher')
      ? [{ t: fact.t, to: fact.message.to, e: fact.message.e }]
      : [],
  );
}

/**
 * Every answer sent to a publisher reaches it (it comes back over the publish's own request, never
 * lost), and is one `answered` fact.
 */
function expectOneFactPerAnswer(facts: readonly Fact[]): Extract<Fact, { kind: 'answered' }>[] {
  const arrived = facts.filter(
    (fact) =>
      fact.kind === 'sent' && fact.message.type === 'publish-reply' && fact.message.to.endsWith('/publisher'),
  ).length;
  const answered = facts.filter((fact) => fact.kind === 'answered');
  expect(arrived).toBeGreaterThan(0);
  expect(answered).toHaveLength(arrived);
  return answered;
}

/** Publish sends grouped by the event id they carry. */
function sendsById(facts: readonly Fact[]): Map<string, { t: Us; to: string }[]> {
  const byId = new Map<string, { t: Us; to: string }[]>();
  for (const { t, to, e } of publishSends(facts)) {
    expect(e, 'a reliable publish carries its id').toBeDefined();
    byId.set(e as string, [...(byId.get(e as string) ?? []), { t, to }]);
  }
  return byId;
}

describe('publishers', () => {
  it('best-effort: each publish is sent once without an id, and every answer is a fact naming the server-given id', () => {
    const { facts, world } = run(smallScenario({ durationMs: 5_000 }));
    const sends = publishSends(facts);
    expect(sends.length).toBe(world.publishes.attempted - world.publishes.unroutable);
    expect(sends.every((send) => send.e === undefined)).toBe(true);
    const answered = expectOneFactPerAnswer(facts);
    const published = new Set(facts.flatMap((fact) => (fact.kind === 'published' ? [fact.event.id] : [])));
    for (const answer of answered) {
      expect(answer.ok).toBe(true);
      expect(published.has(answer.e as string), answer.e).toBe(true);
      expect(answer.e?.startsWith(serverEventIdMarker)).toBe(true);
    }
    expect(world.publishes).toMatchObject({ retried: 0, abandoned: 0 });
  });

  it("reliable: every publish carries its own id, <dc>-<n>, and that id is the event's", () => {
    const { facts, world } = run(reliable({ durationMs: 5_000 }));
    const ids = [...sendsById(facts).keys()];
    expect(ids.length).toBe(world.publishes.attempted);
    for (const id of ids) expect(id).toMatch(/^dc-[ab]-\d+$/);
    expect(new Set(ids).size).toBe(ids.length);
    const published = facts.flatMap((fact) => (fact.kind === 'published' ? [fact.event.id] : []));
    expect(published.sort()).toEqual([...ids].sort());
    const answered = expectOneFactPerAnswer(facts);
    expect(answered.every((answer) => answer.ok && ids.includes(answer.e))).toBe(true);
    // Without a fault nothing is sent twice.
    expect(world.publishes).toMatchObject({ retried: 0, abandoned: 0 });
  });

  it('reliable: a publish left unanswered is sent again with its id, to the next live dispatcher, after publishRetryMs', () => {
    // dc-a/dispatcher-1 is alive but cut off: what is sent to it gets no answer.
    const scenario = reliable({
      faults: [{ kind: 'isolate', atMs: 3_000, node: 'dc-a/dispatcher-1', releaseAfterMs: 1_500 }],
    });
    const { facts, world } = run(scenario);
    const retryUs = usOfMs(publishRetryMs(scenario.roles));
    const retried = [...sendsById(facts)].filter(([, sends]) => sends.length > 1);
    expect(retried.length).toBeGreaterThan(5);
    for (const [id, sends] of retried) {
      expect(sends[0]?.to, id).toBe('dc-a/dispatcher-1');
      // Unanswered: sent again exactly when the wait is over, to the other dispatcher of dc-a.
      expect(sends[1], id).toEqual({ t: (sends[0]?.t ?? 0) + retryUs, to: 'dc-a/dispatcher-2' });
      expect(sends.length, id).toBe(2);
    }
    const answered = expectOneFactPerAnswer(facts);
    for (const [id] of retried)
      expect(
        answered.some((a) => a.ok && a.e === id),
        id,
      ).toBe(true);
    expect(world.publishes.retried).toBe(retried.length);
    expect(world.publishes.abandoned).toBe(0);
  });

  it('reliable: a publish refused for a dead store is sent again after its retryAfterMs, at most publishAttemptsMax times', () => {
    // The store of dc-a is dead for longer than every attempt of a publish can take.
    const scenario = reliable({
      faults: [{ kind: 'kill', atMs: 3_000, node: 'dc-a/store', restartAfterMs: 4_000 }],
    });
    const { facts, world } = run(scenario);
    const answered = expectOneFactPerAnswer(facts);
    const refused = answered.filter((a) => !a.ok);
    expect(refused.length).toBeGreaterThan(5);
    // A refusal names the publisher's own id and the code the dispatcher gave.
    for (const answer of refused) {
      expect(answer.e).toMatch(/^dc-a-\d+$/);
      expect(answer).toMatchObject({ dc: 'dc-a', code: 'store-unavailable' });
    }
    const byId = sendsById(facts);
    const sendCounts = [...byId.values()].map((sends) => sends.length);
    expect(Math.max(...sendCounts)).toBe(publishAttemptsMax);
    expect(world.publishes.abandoned).toBeGreaterThan(0);
    // After a refusal, the next send waits what the dispatcher asked (its default, 1 s) at least.
    for (const answer of refused) {
      const sends = byId.get(answer.e as string) ?? [];
      const next = sends.find((send) => send.t > answer.t);
      if (next !== undefined) expect(next.t - answer.t, answer.e).toBeGreaterThanOrEqual(usOfMs(1_000));
    }
  });

  it('reliable: nothing is sent again once publishing has stopped', () => {
    // The store dies near the end: refusals come in, but their retries would fall after the stop.
    const scenario = reliable({
      faults: [{ kind: 'kill', atMs: 7_500, node: 'dc-a/store', restartAfterMs: 1_000 }],
    });
    const { facts, world } = run(scenario);
    const stopUs = usOfMs(scenario.durationMs);
    const sends = publishSends(facts);
    expect(sends.every((send) => send.t < stopUs)).toBe(true);
    expect(facts.some((fact) => fact.kind === 'answered' && !fact.ok)).toBe(true);
    expect(world.publishes.abandoned).toBeGreaterThan(0);
  });
});
