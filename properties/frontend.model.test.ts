// Goal: the frontend's topic table behaves like a plain model — connections with topic sets, limits
// enforced, a topic registered on its first local viewer and unregistered on its last, each event
// handed to exactly the topic's viewers once — under any sequence of client actions and deliveries.
// Method: fast-check model-based commands against core/'s frontend.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createFrontend, frontendRole, localTopics, type Effect, type FrontendState } from '../core/index.ts';

const limits = {
  connectionsMax: 3,
  topicsPerConnectionMax: 2,
  historyEventsPerTopicMax: 4,
  historyTopicsMax: 8,
  dedupeIdsMax: 5,
};
const dedupeWindowMs = 1_000;

interface Model {
  now: number;
  connections: Map<string, Set<string>>;
  /** Event ids seen within the dedupe window and bound, each with when, oldest first. */
  seen: Map<string, number>;
  /** Event ids each topic's history holds, oldest first. */
  history: Map<string, string[]>;
}

interface Real {
  state: FrontendState;
}

const viewersOf = (model: Model, topic: string): string[] =>
  [...model.connections].filter(([, topics]) => topics.has(topic)).map(([c]) => c);

const leaseSends = (effects: Effect[]): string[] =>
  effects.flatMap((e) =>
    e.kind === 'send' && (e.message.type === 'subscribe' || e.message.type === 'unsubscribe')
      ? [`${e.message.type}:${e.message.topic}`]
      : [],
  );

const notices = (effects: Effect[]): string[] =>
  effects.flatMap((e) => (e.kind === 'notice' ? [e.notice.code] : []));

class Connect implements fc.Command<Model, Real> {
  constructor(readonly c: string) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const effects = frontendRole.handle(
      real.state,
      { kind: 'client', connection: this.c, action: { type: 'connect' } },
      model.now,
    );
    if (model.connections.has(this.c)) assert.deepEqual(notices(effects), ['already-connected']);
    else if (model.connections.size >= limits.connectionsMax)
      assert.deepEqual(notices(effects), ['frontend-full']);
    else {
      assert.deepEqual(effects, [{ kind: 'connected', connection: this.c }]);
      model.connections.set(this.c, new Set());
    }
  }
  toString = (): string => `connect(${this.c})`;
}

class Subscribe implements fc.Command<Model, Real> {
  constructor(
    readonly c: string,
    readonly topic: string,
  ) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const effects = frontendRole.handle(
      real.state,
      { kind: 'client', connection: this.c, action: { type: 'subscribe', topic: this.topic } },
      model.now,
    );
    const topics = model.connections.get(this.c);
    if (topics === undefined) return assert.deepEqual(notices(effects), ['not-connected']);
    if (topics.has(this.topic)) return assert.deepEqual(effects, []);
    if (topics.size >= limits.topicsPerConnectionMax)
      return assert.deepEqual(notices(effects), ['too-many-topics']);
    const first = viewersOf(model, this.topic).length === 0;
    topics.add(this.topic);
    assert.deepEqual(leaseSends(effects), first ? [`subscribe:${this.topic}`] : [], this.toString());
  }
  toString = (): string => `subscribe(${this.c}, ${this.topic})`;
}

class Unsubscribe implements fc.Command<Model, Real> {
  constructor(
    readonly c: string,
    readonly topic: string,
    readonly disconnect: boolean,
  ) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const action = this.disconnect
      ? ({ type: 'disconnect' } as const)
      : ({ type: 'unsubscribe', topic: this.topic } as const);
    const effects = frontendRole.handle(
      real.state,
      { kind: 'client', connection: this.c, action },
      model.now,
    );
    const topics = model.connections.get(this.c);
    if (topics === undefined) return assert.deepEqual(notices(effects), ['not-connected']);
    const leaving = this.disconnect ? [...topics] : topics.has(this.topic) ? [this.topic] : [];
    const expected: string[] = [];
    for (const topic of leaving) {
      topics.delete(topic);
      if (viewersOf(model, topic).length === 0) expected.push(`unsubscribe:${topic}`);
    }
    if (this.disconnect) model.connections.delete(this.c);
    assert.deepEqual(leaseSends(effects), expected, this.toString());
  }
  toString = (): string =>
    this.disconnect ? `disconnect(${this.c})` : `unsubscribe(${this.c}, ${this.topic})`;
}

class Deliver implements fc.Command<Model, Real> {
  constructor(
    readonly id: string,
    readonly topic: string,
  ) {}
  check = (): boolean => true;
  run(model: Model, real: Real): void {
    const event = { id: this.id, topic: this.topic, origin: 'dc-a', publishedAtMs: model.now, payload: 'p' };
    const effects = frontendRole.handle(
      real.state,
      { kind: 'message', source: 'd', message: { type: 'deliver', event } },
      model.now,
    );
    for (const [id, at] of model.seen)
      if (at < model.now - dedupeWindowMs || model.seen.size >= limits.dedupeIdsMax) model.seen.delete(id);
    const held = model.history.get(this.topic) ?? [];
    const duplicate = model.seen.has(this.id) || held.includes(this.id);
    if (!model.seen.has(this.id)) model.seen.set(this.id, model.now);
    if (!duplicate) {
      model.history.delete(this.topic);
      model.history.set(this.topic, [...held, this.id].slice(-limits.historyEventsPerTopicMax));
      if (model.history.size > limits.historyTopicsMax)
        model.history.delete(model.history.keys().next().value as string);
    }
    const viewers = viewersOf(model, this.topic);
    const delivered = effects.flatMap((e) => (e.kind === 'deliver' ? e.connections : []));
    assert.deepEqual(
      [...delivered].sort(),
      duplicate || viewers.length === 0 ? [] : viewers.sort(),
      this.toString(),
    );
    assert.deepEqual(
      localTopics(real.state).sort(),
      [...new Set([...model.connections.values()].flatMap((t) => [...t]))].sort(),
    );
  }
  toString = (): string => `deliver(${this.id} on ${this.topic})`;
}

class Tick implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  run(model: Model): void {
    model.now += this.ms;
  }
  toString = (): string => `tick(${this.ms})`;
}

describe('frontend topic table against its model', () => {
  it('any sequence of client actions and deliveries agrees with the model', () => {
    const c = fc.constantFrom('c1', 'c2', 'c3', 'c4');
    const topic = fc.constantFrom('t1', 't2', 't3');
    const commands = [
      c.map((x) => new Connect(x)),
      fc.tuple(c, topic).map(([x, t]) => new Subscribe(x, t)),
      fc.tuple(c, topic, fc.boolean()).map(([x, t, d]) => new Unsubscribe(x, t, d)),
      // Time passes, so ids leave the dedupe window; deliveries weigh double and reuse few ids, so
      // duplicates just inside and past the window and its bound happen.
      fc.integer({ min: 1, max: 600 }).map((ms) => new Tick(ms)),
      fc.tuple(fc.integer({ min: 1, max: 6 }), topic).map(([n, t]) => new Deliver(`e${n}`, t)),
      fc.tuple(fc.integer({ min: 1, max: 6 }), topic).map(([n, t]) => new Deliver(`e${n}`, t)),
    ];
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80, size: 'large' }), (cmds) => {
        const setup = () => ({
          model: { now: 0, connections: new Map(), seen: new Map(), history: new Map() } as Model,
          real: {
            state: createFrontend({
              nodeId: 'dc-a/frontend-1',
              dc: 'dc-a',
              dispatchers: ['d'],
              dedupeWindowMs,
              limits,
            }),
          },
        });
        fc.modelRun(setup, cmds);
      }),
      { seed: 20_261_122, numRuns: 400 },
    );
  });
});
