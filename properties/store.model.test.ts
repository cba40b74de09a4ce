// Goal: the subscription store behaves like the simplest model of leases — a map of (topic,
// frontend) to expiry and generation, with tombstones and limits — under any sequence of writes,
// lookups, sweeps and time passing. Method: fast-check model-based commands against core/'s store.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  applyStoreRequest,
  createStore,
  storeDeadline,
  sweepStore,
  type StoreReply,
  type StoreState,
} from '../core/index.ts';
import { strict as assert } from 'node:assert';

const limits = {
  topicsMax: 3,
  frontendsPerTopicMax: 2,
  leaseMsMax: 5_000,
  sweepEveryMs: 100,
  tombstoneMs: 1_000,
  lapsedKeepMs: 500,
};

interface Entry {
  exp: number;
  gen: number;
  removedAt: number | null;
  lapseReported: boolean;
}

interface Model {
  now: number;
  entries: Map<string, Map<string, Entry>>;
}

interface Real {
  state: StoreState;
}

const topics = ['a', 'b', 'c', 'd'];
const frontends = ['f1', 'f2', 'f3'];

function modelLive(model: Model, topic: string): string[] {
  return [...(model.entries.get(topic) ?? new Map<string, Entry>())]
    .filter(([, e]) => e.removedAt === null && model.now < e.exp)
    .map(([f]) => f);
}

/** Expired without an unsubscribe, less than lapsedKeepMs ago. */
function modelLapsed(model: Model, topic: string): string[] {
  return [...(model.entries.get(topic) ?? new Map<string, Entry>())]
    .filter(([, e]) => e.removedAt === null && model.now >= e.exp && model.now < e.exp + limits.lapsedKeepMs)
    .map(([f]) => f);
}

function modelWrite(
  model: Model,
  topic: string,
  frontend: string,
  leaseMs: number,
  gen: number,
): 'applied' | 'ignored' | 'full' {
  const byTopic = model.entries.get(topic);
  const existing = byTopic?.get(frontend);
  if (existing !== undefined) {
    if (gen < existing.gen) return 'ignored';
    Object.assign(existing, {
      exp: model.now + Math.min(leaseMs, limits.leaseMsMax),
      gen,
      removedAt: null,
      lapseReported: false,
    });
    return 'applied';
  }
  if (byTopic === undefined && model.entries.size >= limits.topicsMax) return 'full';
  if (byTopic !== undefined && byTopic.size >= limits.frontendsPerTopicMax) return 'full';
  const map = byTopic ?? new Map<string, Entry>();
  model.entries.set(topic, map);
  map.set(frontend, {
    exp: model.now + Math.min(leaseMs, limits.leaseMsMax),
    gen,
    removedAt: null,
    lapseReported: false,
  });
  return 'applied';
}

class Add implements fc.Command<Model, Real> {
  constructor(
    readonly topic: string,
    readonly frontend: string,
    readonly leaseMs: number,
    readonly gen: number,
  ) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const expected = modelWrite(model, this.topic, this.frontend, this.leaseMs, this.gen);
    const { reply } = applyStoreRequest(
      real.state,
      { op: 'add', topic: this.topic, frontend: this.frontend, leaseMs: this.leaseMs, generation: this.gen },
      model.now,
    );
    assert.deepEqual(outcome(reply), expected, this.toString());
  }
  toString = (): string => `add(${this.topic}, ${this.frontend}, ${this.leaseMs} ms, gen ${this.gen})`;
}

class Remove implements fc.Command<Model, Real> {
  constructor(
    readonly topic: string,
    readonly frontend: string,
    readonly gen: number,
  ) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const entry = model.entries.get(this.topic)?.get(this.frontend);
    let expected: 'applied' | 'ignored' = 'ignored';
    if (entry !== undefined && this.gen >= entry.gen && entry.removedAt === null) {
      Object.assign(entry, { removedAt: model.now, exp: model.now, gen: this.gen });
      expected = 'applied';
    } else if (entry !== undefined && this.gen > entry.gen) entry.gen = this.gen;
    const { reply } = applyStoreRequest(
      real.state,
      { op: 'remove', topic: this.topic, frontend: this.frontend, generation: this.gen },
      model.now,
    );
    assert.deepEqual(outcome(reply), expected, this.toString());
  }
  toString = (): string => `remove(${this.topic}, ${this.frontend}, gen ${this.gen})`;
}

class Lookup implements fc.Command<Model, Real> {
  constructor(readonly topic: string) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const { reply } = applyStoreRequest(real.state, { op: 'lookup', topic: this.topic }, model.now);
    assert.deepEqual(
      reply.op === 'frontends' ? { frontends: reply.frontends, lapsed: reply.lapsed } : reply,
      { frontends: modelLive(model, this.topic), lapsed: modelLapsed(model, this.topic) },
      this.toString(),
    );
  }
  toString = (): string => `lookup(${this.topic})`;
}

class Advance implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    model.now += this.ms;
    // The host calls the store at its deadline, as the simulator and the embedded store do.
    const due = storeDeadline(real.state);
    if (due !== null && due <= model.now) {
      const expired = sweepStore(real.state, model.now).map((c) => `${c.topic}/${c.frontend}`);
      const expected: string[] = [];
      for (const [topic, map] of model.entries) {
        for (const [frontend, e] of map) {
          if (e.removedAt !== null) {
            if (model.now >= e.removedAt + limits.tombstoneMs) map.delete(frontend);
            continue;
          }
          if (model.now < e.exp) continue;
          // A lapse is reported once, and the lapsed entry kept for lapsedKeepMs.
          if (!e.lapseReported) expected.push(`${topic}/${frontend}`);
          e.lapseReported = true;
          if (model.now >= e.exp + limits.lapsedKeepMs) map.delete(frontend);
        }
        if (map.size === 0) model.entries.delete(topic);
      }
      assert.deepEqual(expired, expected, `sweep at ${model.now}`);
    }
    assert.equal(
      real.state.leaseCount,
      [...model.entries.values()].reduce((n, m) => n + m.size, 0),
      'entries held',
    );
  }
  toString = (): string => `advance(${this.ms} ms)`;
}

function outcome(reply: StoreReply): string {
  if (reply.op === 'rejected') return reply.reason === 'full' ? 'full' : `bad:${reply.message}`;
  if (reply.op === 'written') return reply.applied > 0 ? 'applied' : 'ignored';
  return 'frontends';
}

describe('subscription store against its model', () => {
  it('any sequence of writes, lookups and time passing agrees with the model', () => {
    const topic = fc.constantFrom(...topics);
    const frontend = fc.constantFrom(...frontends);
    const commands = [
      fc
        .tuple(topic, frontend, fc.integer({ min: 1, max: 8_000 }), fc.nat(6))
        .map(([t, f, l, g]) => new Add(t, f, l, g)),
      fc.tuple(topic, frontend, fc.nat(6)).map(([t, f, g]) => new Remove(t, f, g)),
      topic.map((t) => new Lookup(t)),
      fc.integer({ min: 1, max: 2_000 }).map((ms) => new Advance(ms)),
    ];
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 60, size: 'large' }), (cmds) => {
        const setup = () => ({
          model: { now: 0, entries: new Map() } as Model,
          real: { state: createStore(limits) },
        });
        fc.modelRun(setup, cmds);
      }),
      { seed: 20_261_121, numRuns: 400 },
    );
  });
});
