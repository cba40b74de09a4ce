// Goal: reliable mode's promises hold when the three roles talk through nothing but handle():
// every viewer gets its datacenter's seqs in order and without holes, lost deliveries and lost
// tails are recovered from the history, a store that lost its data is announced with an honest gap
// and its new epoch is delivered whole, and a resuming viewer gets exactly what it missed.
// Method: the tiny deterministic host of core/test-harness.ts with message rules as faults.
import { describe, expect, it } from 'vitest';
import { Harness } from './test-harness.ts';
import type { Message } from './types.ts';

function reliableWorld(storeLimits = {}, frontendLimits = {}): Harness {
  const h = new Harness(
    { 'dc-a': { frontends: 2, dispatchers: 2 }, 'dc-b': { frontends: 1, dispatchers: 1 } },
    { mode: 'reliable', storeLimits, frontendLimits },
  );
  for (const [fe, c] of [
    ['dc-a/fe-1', 'a1'],
    ['dc-a/fe-2', 'a2'],
    ['dc-b/fe-1', 'b1'],
  ] as const) {
    h.client(fe, c, { type: 'connect' });
    h.client(fe, c, { type: 'subscribe', topic: 'live' });
  }
  h.run(50);
  return h;
}

const contiguous = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('reliable mode through handle()', () => {
  it('viewers join at the head and get every seq of their datacenter in order, across datacenters', () => {
    const h = reliableWorld();
    expect(h.joinedAt.get('a1')).toEqual({ epoch: 1, seq: 0 });
    for (let i = 0; i < 5; i++) h.publish(i % 2 === 0 ? 'dc-a/d-1' : 'dc-b/d-1', 'live', `like ${i}`);
    h.run(500);
    for (const c of ['a1', 'a2', 'b1']) {
      expect(h.seqs.get(c)).toEqual([1, 2, 3, 4, 5]);
      expect(h.received.get(c)).toHaveLength(5);
    }
    expect(h.published).toHaveLength(5);
  });

  it('a lost delivery is sent again until acknowledged, and the viewer still sees it once, in order', () => {
    const h = reliableWorld();
    let lost = 0;
    h.rule = (_s, target, m) => {
      if (m.type !== 'deliver' || target !== 'dc-a/fe-1' || lost > 0) return 'pass';
      lost++;
      return 'drop';
    };
    h.publish('dc-a/d-1', 'live', 'x');
    h.publish('dc-a/d-1', 'live', 'y');
    h.run(2_000);
    expect(lost).toBe(1);
    expect(h.seqs.get('a1')).toEqual([1, 2]);
  });

  it('a lost tail (every try of the last delivery lost) is noticed from the renewal and read from the history', () => {
    const h = reliableWorld();
    h.rule = (_s, target, m) => (m.type === 'deliver' && target === 'dc-a/fe-2' ? 'drop' : 'pass');
    h.publish('dc-a/d-1', 'live', 'only');
    // Every try of the delivery is lost and no later event shows a gap: only the renewal's head tells.
    h.run(2_500);
    expect(h.seqs.get('a2')).toEqual([1]);
  });

  it('a retried publish with the same id gets the same seq: viewers see it once', () => {
    const h = reliableWorld();
    const publish: Message = { type: 'publish', requestId: 1, topic: 'live', payload: 'p', id: 'mine-1' };
    h.send('publisher', 'dc-a/d-1', publish);
    h.send('publisher', 'dc-a/d-2', { ...publish, requestId: 2 });
    h.run(1_000);
    expect(h.seqs.get('a1')).toEqual([1]);
    expect(h.seqs.get('b1')).toEqual([1]);
  });

  it('a store that lost its data: an epoch gap for the old epoch, then every event of the new epoch', () => {
    const h = reliableWorld();
    h.publish('dc-a/d-1', 'live', 'before');
    h.run(200);
    h.restartStore('dc-a', 2);
    // Published into the new epoch before any frontend has registered again.
    h.publish('dc-a/d-1', 'live', 'after-1');
    h.publish('dc-a/d-2', 'live', 'after-2');
    h.run(2_000);
    expect(h.gaps.get('a1')).toEqual([{ topic: 'live', epoch: 1, fromSeq: 2, toSeq: null, why: 'epoch' }]);
    expect(h.seqs.get('a1')).toEqual([1, 1, 2]);
    expect(h.received.get('a1')).toHaveLength(3);
  });

  it('a gap the history no longer holds becomes a notice for exactly the missing seqs', () => {
    const h = reliableWorld({ historyEventsMax: 2, historyIdsMax: 2 });
    h.rule = (_s, target, m) => (m.type === 'deliver' && target === 'dc-a/fe-1' ? 'drop' : 'pass');
    for (let i = 0; i < 5; i++) h.publish('dc-a/d-1', 'live', `e${i}`);
    h.run(60);
    h.rule = () => 'pass';
    h.run(2_000);
    expect(h.gaps.get('a1')).toEqual([{ topic: 'live', epoch: 1, fromSeq: 1, toSeq: 3, why: 'trimmed' }]);
    expect(h.seqs.get('a1')).toEqual([4, 5]);
  });

  it('a frontend the store refuses every lease (full) still joins its viewers and catches them up from the heads its refusals name', () => {
    const h = reliableWorld({ frontendsPerTopicMax: 1 });
    expect(h.leases('dc-a', 'live')).toEqual(['dc-a/fe-1']);
    for (let i = 0; i < 3; i++) h.publish('dc-a/d-1', 'live', `e${i}`);
    h.run(2_000);
    expect(h.joinedAt.get('a2')).toEqual({ epoch: 1, seq: 0 });
    expect(h.seqs.get('a2')).toEqual([1, 2, 3]);
    expect(h.seqs.get('a1')).toEqual([1, 2, 3]);
  });

  it('a gap the history no longer holds never swallows an event the frontend holds out of order: that one is delivered', () => {
    const h = reliableWorld({ historyEventsMax: 1 });
    // The first event never reaches dc-a/fe-1; the next two arrive and wait behind the gap.
    h.rule = (_s, target, m) =>
      m.type === 'deliver' && target === 'dc-a/fe-1' && m.position?.seq === 1 ? 'drop' : 'pass';
    for (let i = 0; i < 3; i++) h.publish('dc-a/d-1', 'live', `e${i}`);
    h.run(2_000);
    // By the time the frontend reads, the store holds seq 3 alone: seq 1 is gone, seq 2 is in hand.
    expect(h.gaps.get('a1')).toEqual([{ topic: 'live', epoch: 1, fromSeq: 1, toSeq: 1, why: 'trimmed' }]);
    expect(h.seqs.get('a1')).toEqual([2, 3]);
  });

  it('a resuming viewer is caught up from the recent events its frontend holds, though the history trimmed them', () => {
    const h = reliableWorld({ historyEventsMax: 1 }, { historyEventsPerTopicMax: 3 });
    h.publish('dc-a/d-1', 'live', 'seen');
    h.run(200);
    h.client('dc-a/fe-1', 'a1', { type: 'disconnect' });
    for (let i = 0; i < 5; i++) h.publish('dc-a/d-1', 'live', `missed ${i}`);
    h.run(400);
    // dc-a/fe-2 holds seqs 4-6 of what it delivered to a2; the store holds seq 6 alone.
    h.client('dc-a/fe-2', 'a1-again', { type: 'connect' });
    h.client('dc-a/fe-2', 'a1-again', {
      type: 'resume',
      topics: ['live'],
      lastEventId: h.received.get('a1')![0]!,
      cursors: [{ topic: 'live', dc: 'dc-a', epoch: 1, seq: 1 }],
    });
    h.run(1_000);
    expect(h.gaps.get('a1-again')).toEqual([
      { topic: 'live', epoch: 1, fromSeq: 2, toSeq: 3, why: 'trimmed' },
    ]);
    expect(h.seqs.get('a1-again')).toEqual([4, 5, 6]);
  });

  it('a viewer resuming on another frontend of its datacenter gets exactly the seqs after its cursor', () => {
    const h = reliableWorld();
    h.publish('dc-a/d-1', 'live', 'seen');
    h.run(200);
    h.client('dc-a/fe-1', 'a1', { type: 'disconnect' });
    for (let i = 0; i < 3; i++) h.publish('dc-a/d-1', 'live', `missed ${i}`);
    h.run(400);
    h.client('dc-a/fe-2', 'a1-again', { type: 'connect' });
    h.client('dc-a/fe-2', 'a1-again', {
      type: 'resume',
      topics: ['live'],
      lastEventId: h.received.get('a1')![0]!,
      cursors: [{ topic: 'live', dc: 'dc-a', epoch: 1, seq: 1 }],
    });
    h.publish('dc-a/d-1', 'live', 'live again');
    h.run(1_000);
    expect(h.seqs.get('a1-again')).toEqual(contiguous(2, 5));
    // It joins at its cursor: everything after it comes in order, the catch-up first.
    expect(h.joinedAt.get('a1-again')).toEqual({ epoch: 1, seq: 1 });
  });

  it('a viewer that joined before the first event resumes from its cursor at seq 0: it gets everything published while it was away', () => {
    const h = reliableWorld();
    expect(h.joinedAt.get('a1')).toEqual({ epoch: 1, seq: 0 });
    h.client('dc-a/fe-1', 'a1', { type: 'disconnect' });
    for (let i = 0; i < 2; i++) h.publish('dc-a/d-1', 'live', `missed ${i}`);
    h.run(400);
    h.client('dc-a/fe-2', 'a1-again', { type: 'connect' });
    h.client('dc-a/fe-2', 'a1-again', {
      type: 'resume',
      topics: ['live'],
      lastEventId: 'none',
      cursors: [{ topic: 'live', dc: 'dc-a', epoch: 1, seq: 0 }],
    });
    h.publish('dc-a/d-1', 'live', 'live again');
    h.run(1_000);
    expect(h.joinedAt.get('a1-again')).toEqual({ epoch: 1, seq: 0 });
    expect(h.seqs.get('a1-again')).toEqual([1, 2, 3]);
    expect(h.gaps.get('a1-again')).toBeUndefined();
  });

  it('a cursor of another datacenter with no last event id, where nothing is held yet: joined at the head, nothing to tell', () => {
    const h = reliableWorld();
    h.client('dc-b/fe-1', 'hop', { type: 'connect' });
    h.client('dc-b/fe-1', 'hop', {
      type: 'resume',
      topics: ['quiet'],
      lastEventId: 'none',
      cursors: [{ topic: 'quiet', dc: 'dc-a', epoch: 1, seq: 3 }],
    });
    h.run(600);
    expect(h.joinedAt.get('hop')).toEqual({ epoch: 1, seq: 0 });
    expect(h.gaps.get('hop')).toBeUndefined();
    h.publish('dc-b/d-1', 'quiet', 'first');
    h.run(1_000);
    expect(h.seqs.get('hop')).toEqual([1]);
  });

  it('a cursor from another datacenter is located by its last event id', () => {
    const h = reliableWorld();
    h.publish('dc-a/d-1', 'live', 'one');
    h.publish('dc-a/d-1', 'live', 'two');
    h.run(300);
    const [first] = h.received.get('b1')!;
    h.client('dc-a/fe-1', 'hop', { type: 'connect' });
    h.client('dc-a/fe-1', 'hop', {
      type: 'resume',
      topics: ['live'],
      lastEventId: first!,
      cursors: [{ topic: 'live', dc: 'dc-b', epoch: 1, seq: 1, lastEventId: first! }],
    });
    h.run(600);
    expect(h.seqs.get('hop')).toEqual([2]);
    expect(h.gaps.get('hop')).toBeUndefined();
  });

  it('forwards due at one deadline, one past its window and one still in it: the first expires, the second is retried', () => {
    // forwardTimeoutMs 500 (the default) and a window of 1,200 ms: at 1 s the forward first sent at
    // 0 is past its window, the one first sent at 500 ms is not.
    const h = new Harness(
      { 'dc-a': { frontends: 1, dispatchers: 1 }, 'dc-b': { frontends: 1, dispatchers: 1 } },
      { mode: 'reliable', forwardWindowMs: 1_200 },
    );
    h.rule = (source, target) => (source.startsWith('dc-a') && target.startsWith('dc-b') ? 'drop' : 'pass');
    h.publish('dc-a/d-1', 'live', 'first');
    h.run(500);
    h.publish('dc-a/d-1', 'live', 'second');
    // Healed after both first tries and the first one's retry were lost, before the deadline they share.
    h.run(600);
    h.rule = () => 'pass';
    h.run(3_000);
    const forwards = (h.messagesTo.get('dc-b/d-1') ?? []).filter((m) => m.type === 'forward');
    expect(forwards.map((m) => m.type === 'forward' && m.event.payload)).toEqual(['second']);
  });

  it('forwards expiring at one deadline are each given up with a forward-expired drop', () => {
    const h = new Harness(
      { 'dc-a': { frontends: 1, dispatchers: 1 }, 'dc-b': { frontends: 1, dispatchers: 1 } },
      { mode: 'reliable', forwardWindowMs: 1_200 },
    );
    h.rule = (source, target) => (source.startsWith('dc-a') && target.startsWith('dc-b') ? 'drop' : 'pass');
    h.publish('dc-a/d-1', 'live', 'one');
    h.publish('dc-a/d-1', 'live', 'two');
    h.run(3_000);
    const node = h.nodes.get('dc-a/d-1');
    expect(node?.role === 'dispatcher' && node.state.counters['forwards-expired']).toBe(2);
    expect(node?.role === 'dispatcher' && node.state.forwardsInFlight.size).toBe(0);
  });

  it('a forward that cannot reach a partitioned datacenter is retried until it heals', () => {
    const h = reliableWorld();
    let cut = true;
    h.rule = (source, target) =>
      cut && source.startsWith('dc-a') && target.startsWith('dc-b') ? 'drop' : 'pass';
    h.publish('dc-a/d-1', 'live', 'across');
    h.run(2_000);
    expect(h.seqs.get('b1')).toBeUndefined();
    cut = false;
    h.run(4_000);
    expect(h.seqs.get('b1')).toEqual([1]);
  });

  it('an event appended again after the store lost its epoch is not given twice: a duplicate gap stands for it', () => {
    const h = reliableWorld();
    const publish: Message = { type: 'publish', requestId: 1, topic: 'live', payload: 'p', id: 'mine-1' };
    h.send('publisher', 'dc-a/d-1', publish);
    h.run(200);
    h.restartStore('dc-a', 2);
    h.run(1_000);
    // The publisher retries the same id into the new epoch, where it is sequenced afresh.
    h.send('publisher', 'dc-a/d-1', { ...publish, requestId: 2 });
    h.run(2_000);
    expect(h.received.get('a1')).toEqual(['mine-1']);
    expect(h.gaps.get('a1')).toContainEqual({
      topic: 'live',
      epoch: 2,
      fromSeq: 1,
      toSeq: 1,
      why: 'duplicate',
      eventId: 'mine-1',
    });
  });

  it('a publish accepted twice (the network duplicated it) is forwarded once, and answered twice', () => {
    const h = reliableWorld();
    h.rule = (_s, _t, m) => (m.type === 'publish' ? 'duplicate' : 'pass');
    h.send('publisher', 'dc-a/d-1', {
      type: 'publish',
      requestId: 1,
      topic: 'live',
      payload: 'p',
      id: 'twice',
    });
    h.run(1_000);
    const forwards = (h.messagesTo.get('dc-b/d-1') ?? []).filter((m) => m.type === 'forward');
    expect(forwards).toHaveLength(1);
    expect(h.published).toEqual(['twice', 'twice']);
    expect(h.seqs.get('b1')).toEqual([1]);
  });

  it('a viewer that received nothing yet resumes from where it joined (seq 0), not from now', () => {
    const h = reliableWorld();
    expect(h.joinedAt.get('a1')).toEqual({ epoch: 1, seq: 0 });
    h.client('dc-a/fe-1', 'a1', { type: 'disconnect' });
    for (let i = 0; i < 3; i++) h.publish('dc-a/d-1', 'live', `missed ${i}`);
    h.run(400);
    h.client('dc-a/fe-2', 'back', { type: 'connect' });
    h.client('dc-a/fe-2', 'back', {
      type: 'resume',
      topics: ['live'],
      lastEventId: 'none',
      cursors: [{ topic: 'live', dc: 'dc-a', epoch: 1, seq: 0 }],
    });
    h.run(800);
    expect(h.seqs.get('back')).toEqual([1, 2, 3]);
  });
});
