// Goal: the three roles, wired together by nothing but their `handle`/`deadline` contracts, deliver
// a publish to exactly the subscribed connections of two datacenters, once each, and stop sending
// to a frontend whose lease expired. Method: a tiny deterministic host routes every effect with a
// fixed 1 ms latency and fires deadlines in time order; it has optional message rules for faults.
import { describe, expect, it } from 'vitest';
import { Harness } from './test-harness.ts';
import type { ConnectionId, NodeId } from './types.ts';

function world(): Harness {
  const h = new Harness({
    'dc-a': { frontends: 2, dispatchers: 2 },
    'dc-b': { frontends: 1, dispatchers: 2 },
  });
  const viewers: [NodeId, ConnectionId, string][] = [
    ['dc-a/fe-1', 'a1', 'live'],
    ['dc-a/fe-1', 'a2', 'other'],
    ['dc-a/fe-2', 'a3', 'live'],
    ['dc-b/fe-1', 'b1', 'live'],
    ['dc-b/fe-1', 'b2', 'live'],
    ['dc-b/fe-1', 'b3', 'other'],
  ];
  for (const [fe, c, topic] of viewers) {
    h.client(fe, c, { type: 'connect' });
    h.client(fe, c, { type: 'subscribe', topic });
  }
  h.client('dc-a/fe-2', 'idle', { type: 'connect' });
  h.run(50);
  return h;
}

describe('two datacenters wired through handle()', () => {
  it('a publish in dc-a reaches exactly the subscribed connections of dc-a and dc-b', () => {
    const h = world();
    h.publish('dc-a/d-1', 'live', 'like');
    h.run(100);
    expect(h.published).toHaveLength(1);
    const id = h.published[0]!;
    const got = Object.fromEntries([...h.received].map(([c, ids]) => [c, ids]));
    expect(got).toEqual({ a1: [id], a3: [id], b1: [id], b2: [id] });
  });

  it('duplicated network messages and a lost forward-ack never make a connection see an event twice', () => {
    const h = world();
    let acksLost = 0;
    h.rule = (_source, _target, message) => {
      if (message.type === 'forward-ack' && acksLost++ < 2) return 'drop'; // both copies of the first ack
      return message.type === 'deliver' || message.type === 'forward' ? 'duplicate' : 'pass';
    };
    h.publish('dc-a/d-2', 'live', 'like');
    h.run(2_000);
    const forwardsToB = [...h.messagesTo]
      .filter(([n]) => n.startsWith('dc-b/d'))
      .flatMap(([, m]) => m.filter((x) => x.type === 'forward'));
    expect(forwardsToB.length).toBeGreaterThanOrEqual(4); // two attempts, each duplicated
    for (const c of ['a1', 'a3', 'b1', 'b2']) expect(h.received.get(c)).toHaveLength(1);
  });

  it('a frontend that cannot renew loses its lease and then receives nothing more', () => {
    const h = world();
    expect(h.leases('dc-a', 'live')).toEqual(['dc-a/fe-1', 'dc-a/fe-2']);
    h.rule = (source) => (source === 'dc-a/fe-2' ? 'drop' : 'pass');
    h.run(1_500);
    expect(h.leases('dc-a', 'live')).toEqual(['dc-a/fe-1']);
    const before = (h.messagesTo.get('dc-a/fe-2') ?? []).filter((m) => m.type === 'deliver').length;
    h.publish('dc-a/d-1', 'live', 'like');
    h.publish('dc-b/d-1', 'live', 'like');
    h.run(1_600);
    expect((h.messagesTo.get('dc-a/fe-2') ?? []).filter((m) => m.type === 'deliver').length).toBe(before);
    expect(h.received.get('a3') ?? []).toEqual([]);
    expect(h.received.get('a1')).toHaveLength(2);
  });

  it('the last viewer leaving unregisters the topic from the store', () => {
    const h = world();
    expect(h.leases('dc-b', 'live')).toEqual(['dc-b/fe-1']);
    h.client('dc-b/fe-1', 'b1', { type: 'unsubscribe', topic: 'live' });
    h.run(60);
    expect(h.leases('dc-b', 'live')).toEqual(['dc-b/fe-1']);
    h.client('dc-b/fe-1', 'b2', { type: 'disconnect' });
    h.run(70);
    expect(h.leases('dc-b', 'live')).toEqual([]);
    expect(h.leases('dc-b', 'other')).toEqual(['dc-b/fe-1']);
  });

  it('a dead dispatcher: frontends register through the other one and publishes still cross over', () => {
    const h = new Harness({
      'dc-a': { frontends: 1, dispatchers: 2 },
      'dc-b': { frontends: 1, dispatchers: 2 },
    });
    const dead = new Set(['dc-a/d-1', 'dc-b/d-1']);
    h.rule = (_s, target) => (dead.has(target) ? 'drop' : 'pass');
    h.client('dc-a/fe-1', 'a', { type: 'connect' });
    h.client('dc-a/fe-1', 'a', { type: 'subscribe', topic: 't' });
    h.client('dc-b/fe-1', 'b', { type: 'connect' });
    h.client('dc-b/fe-1', 'b', { type: 'subscribe', topic: 't' });
    h.run(2_000);
    h.publish('dc-a/d-2', 't', 'x');
    h.run(4_000);
    expect(h.received.get('a')).toHaveLength(1);
    expect(h.received.get('b')).toHaveLength(1);
  });
});
