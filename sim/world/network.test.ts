// Goal: the facts name what each message is about truthfully, across restarts.
// Method: run the world with dispatcher kills and lossy links (reliable mode too) and read its facts directly.
import { describe, expect, it } from 'vitest';
import type { Fact, MessageFacts } from '../facts.ts';
import { smallScenario } from '../test-fixtures.ts';
import { runWorld } from './world.ts';

describe('network facts', () => {
  it('a store write is never taken for the lookup of an earlier incarnation that reused its request id', () => {
    // Request ids restart at 1 with a dispatcher; a lookup whose reply was lost must not leave its
    // event attached to the next request of the same id (a lease write), or a lost lease message
    // would be filed as the loss of an old event.
    const scenario = smallScenario({
      durationMs: 8_000,
      lossPerMillion: 20_000,
      randomFaults: {
        killsPerMinute: 30,
        partitionsPerMinute: 5,
        isolationsPerMinute: 5,
        jitterStormsPerMinute: 0,
        lossBurstsPerMinute: 5,
        durationMs: { min: 200, max: 1_500 },
      },
    });
    const sent: MessageFacts[] = [];
    const record = (fact: Fact): void => {
      if (fact.kind === 'sent' && fact.message.type === 'store-request') sent.push(fact.message);
    };
    for (const seed of ['10', '13', '20']) runWorld(scenario, seed, { facts: [record] });
    expect(sent.filter((m) => m.leaseOf !== undefined).length).toBeGreaterThan(50);
    expect(sent.filter((m) => m.e !== undefined && m.leaseOf !== undefined)).toEqual([]);
  });

  it("reliable: a deliver-ack names the delivery and event it acknowledges, a history answer the read's topic", () => {
    const scenario = smallScenario({
      mode: 'reliable',
      durationMs: 6_000,
      lossPerMillion: 50_000,
      faults: [{ kind: 'kill', atMs: 3_000, node: 'dc-a/store', restartAfterMs: 500 }],
    });
    const sent: MessageFacts[] = [];
    runWorld(scenario, '3', { facts: [(fact) => fact.kind === 'sent' && sent.push(fact.message)] });
    const delivered = new Map<string, MessageFacts>();
    // Reads not answered yet, per frontend and topic: every answer is to one of them.
    const unanswered = new Map<string, number>();
    let acks = 0;
    let answers = 0;
    for (const message of sent) {
      if (message.type === 'deliver') {
        expect(message).toMatchObject({ deliveryId: expect.any(Number), epoch: expect.any(Number) });
        delivered.set(`${message.from} ${message.deliveryId}`, message);
      } else if (message.type === 'deliver-ack') {
        acks++;
        const deliver = delivered.get(`${message.to} ${message.deliveryId}`);
        expect(deliver?.to).toBe(message.from);
        expect(message.e).toBe(deliver?.e);
      } else if (message.type === 'history-read') {
        expect(message.historyAfter).toBeDefined();
        const key = `${message.from} ${message.topic}`;
        unanswered.set(key, (unanswered.get(key) ?? 0) + 1);
      } else if (message.type === 'history-reply') {
        answers++;
        const key = `${message.to} ${message.topic}`;
        expect(unanswered.get(key)).toBeGreaterThan(0);
        unanswered.set(key, unanswered.get(key)! - 1);
        expect(message.historyAnswer).toBeDefined();
      }
    }
    expect(acks).toBeGreaterThan(100);
    expect(answers).toBeGreaterThan(0);
  });
});
