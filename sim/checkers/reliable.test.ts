// Goal: reliable mode's invariants (eventual delivery, order, honest gaps, acknowledged means
// delivered) hold on streams that keep the protocol, and each is reported when a stream breaks it.
// Method: small fact streams written by hand (test-facts.ts: a run fact with a reliable
// scenario, connections, publishes, the stores' appends and trims, deliveries with their seqs, gap
// notices, answers), judged by the whole checker suite; a passing stream must break nothing at all.
import { describe, expect, it } from 'vitest';
import type { Fact } from '../facts.ts';
import { Checkers, eventRetentionUs, type CheckerSummary, type InvariantName } from './index.ts';
import { withoutViewersUs } from './suite.ts';
import { SyntheticFacts, syntheticScenario } from './test-facts.ts';
import { judgedInvariants } from './violations.ts';
import { catchUpMs, settleMs } from '../settle.ts';

const fa1 = 'dc-a/frontend-1';
const fa2 = 'dc-a/frontend-2';
const storeA = 'dc-a/store';

function judge(facts: Fact[]): CheckerSummary {
  const checkers = new Checkers();
  for (const fact of facts) checkers.apply(fact);
  return checkers.summary();
}

/** The invariants the stream broke, with how often. */
function broken(summary: CheckerSummary): Partial<Record<InvariantName, number>> {
  return Object.fromEntries(Object.entries(summary.violationCounts).filter(([, n]) => n > 0));
}

function messagesOf(summary: CheckerSummary, invariant: InvariantName): string[] {
  return summary.violations.filter((v) => v.invariant === invariant).map((v) => v.message);
}

/** Viewer 0 on connection 0 at dc-a/frontend-1, joined to "live" at epoch 1, seq 0. */
function viewerJoined(): SyntheticFacts {
  return new SyntheticFacts().open(0, 0, fa1).join(0, 'live', 1, 0);
}

/** Event `e` published in dc-a and appended in both stores (same seq), answered OK. */
function published(s: SyntheticFacts, e: string, seq: number, epoch = 1): SyntheticFacts {
  return s
    .publish(e, 'live', 'dc-a')
    .append('dc-a', e, epoch, seq)
    .append('dc-b', e, 1, seq)
    .answer('dc-a', e);
}

/** The run's end once a catch-up time has passed: every seq appended so far is owed by then. */
function settledEnd(s: SyntheticFacts): Fact[] {
  return s.at(s.t / 1_000 + catchUpMs(syntheticScenario('reliable')) + 1).end();
}

/** Events e1..en published and delivered in order to connection 0. */
function receivedInOrder(n: number): SyntheticFacts {
  const s = viewerJoined();
  for (let i = 1; i <= n; i++) published(s, `e${i}`, i).deliver(fa1, `e${i}`, [0], 1, i);
  return s;
}

describe('reliable mode: eventual delivery (6)', () => {
  it('a connection that received every seq up to the head keeps it', () => {
    const summary = judge(receivedInOrder(3).end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable).toMatchObject({
      streamsJudged: 1,
      seqsMissing: 0,
      appended: 6,
      acknowledged: 3,
    });
  });

  it('planted: a connection still joined at the end without the head is reported, naming the first seq it lacks', () => {
    const s = receivedInOrder(2);
    published(s, 'e3', 3);
    const summary = judge(settledEnd(s));
    expect(broken(summary)).toEqual({ 'eventual-delivery': 1 });
    expect(messagesOf(summary, 'eventual-delivery')[0]).toMatch(
      /dc-a\/frontend-1#0 \(viewer 0\) is still joined to "live" at the end but never got 1 seq\(s\) of dc-a's epoch 1 up to seq 3, its head a catch-up time before the end \(first: 3\)/,
    );
    expect(summary.reliable?.seqsMissing).toBe(1);
  });

  it('a seq appended less than a catch-up time before the end is not owed yet: a stream that missed it may still be catching up', () => {
    const s = receivedInOrder(2);
    published(s, 'e3', 3);
    const catchUp = catchUpMs(syntheticScenario('reliable'));
    const summary = judge(s.at(s.t / 1_000 + catchUp - 10).end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable).toMatchObject({ streamsJudged: 1, seqsMissing: 0 });
  });

  it('a gap notice stands in for the seqs it covers, at the end as on the way', () => {
    const s = receivedInOrder(1);
    published(s, 'e2', 2);
    published(s, 'e3', 3);
    s.trim('dc-a', 'live', 1, 3).gap(fa1, 'live', [0], 1, 2, 3, 'trimmed');
    expect(broken(judge(s.end()))).toEqual({});
  });

  it('planted: a viewer left in an old epoch while its store appends in the new one is reported', () => {
    const s = receivedInOrder(1).down(storeA).up(storeA);
    s.publish('e2', 'live', 'dc-a')
      .append('dc-a', 'e2', 2, 1)
      .append('dc-b', 'e2', 1, 2)
      .answer('dc-a', 'e2');
    const summary = judge(settledEnd(s));
    expect(broken(summary)).toEqual({ 'eventual-delivery': 1 });
    expect(messagesOf(summary, 'eventual-delivery')[0]).toMatch(/still in epoch 1 \(at seq 1\)/);
  });

  it('a connection that closed, or left the topic, is not judged at the end', () => {
    const s = receivedInOrder(1).open(1, 1, fa2).join(1, 'live', 1, 1).leave(1, 'live').close(0);
    published(s, 'e2', 2);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.streamsJudged).toBe(0);
  });
});

describe('reliable mode: order (7)', () => {
  it('planted: a seq skipped without a gap notice is reported', () => {
    const s = viewerJoined();
    published(s, 'e1', 1).deliver(fa1, 'e1', [0], 1, 1);
    published(s, 'e2', 2);
    published(s, 'e3', 3).deliver(fa1, 'e3', [0], 1, 3);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ order: 1 });
    expect(messagesOf(summary, 'order')[0]).toMatch(
      /received event e3 of "live" as seq 3 of dc-a's epoch 1, skipping seqs 2..2 with no gap notice/,
    );
  });

  it('planted: a seq repeated is reported (and its event as a duplicate)', () => {
    const s = receivedInOrder(2).deliver(fa1, 'e2', [0], 1, 2);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ order: 1, 'no-duplicates': 1 });
    expect(messagesOf(summary, 'order')[0]).toMatch(
      /as seq 2 .* after it had reached seq 2: a repeat or a step back/,
    );
  });

  it('the first seq after a joined position is the next one: a join at seq 5 starts with 6', () => {
    const s = new SyntheticFacts().open(0, 0, fa1);
    for (let i = 1; i <= 5; i++) published(s, `e${i}`, i);
    s.join(0, 'live', 1, 5);
    published(s, 'e6', 6).deliver(fa1, 'e6', [0], 1, 6);
    expect(broken(judge(s.end()))).toEqual({});
  });

  it('a gap notice told while an earlier batch is still on the client link covers the seqs after it', () => {
    const s = viewerJoined();
    published(s, 'e1', 1);
    published(s, 'e2', 2);
    published(s, 'e3', 3);
    s.trim('dc-a', 'live', 1, 3);
    s.fanOut(fa1, 'e1', [0], 1, 1).gap(fa1, 'live', [0], 1, 2, 3, 'trimmed').receive(fa1, 'e1', [0], 1, 1);
    published(s, 'e4', 4).deliver(fa1, 'e4', [0], 1, 4);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.gaps).toEqual({ trimmed: 1, epoch: 0, 'unknown-cursor': 0, duplicate: 0 });
  });

  it('an epoch change: a gap notice for the rest of the old epoch, then the new one from seq 1', () => {
    const s = receivedInOrder(2).down(storeA).up(storeA);
    s.publish('e3', 'live', 'dc-a')
      .append('dc-a', 'e3', 2, 1)
      .append('dc-b', 'e3', 1, 3)
      .answer('dc-a', 'e3');
    s.gap(fa1, 'live', [0], 1, 3, null, 'epoch').deliver(fa1, 'e3', [0], 2, 1);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.streamsJudged).toBe(1);
  });

  it('planted: a new epoch without a gap notice for the old one is reported', () => {
    const s = receivedInOrder(2).down(storeA).up(storeA);
    s.publish('e3', 'live', 'dc-a')
      .append('dc-a', 'e3', 2, 1)
      .append('dc-b', 'e3', 1, 3)
      .answer('dc-a', 'e3');
    s.deliver(fa1, 'e3', [0], 2, 1);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ order: 1 });
    expect(messagesOf(summary, 'order')[0]).toMatch(
      /moving on from epoch 1 \(at seq 2\) with no gap notice for the rest of it/,
    );
  });

  it('planted: a receipt at a seq other than the one its store appended the event at is reported', () => {
    const s = viewerJoined();
    published(s, 'e1', 1).deliver(fa1, 'e1', [0], 1, 1);
    s.publish('e2', 'live', 'dc-a')
      .append('dc-a', 'e2', 1, 3)
      .append('dc-b', 'e2', 1, 3)
      .answer('dc-a', 'e2');
    s.deliver(fa1, 'e2', [0], 1, 2);
    const summary = judge(s.end());
    expect(messagesOf(summary, 'order')[0]).toMatch(
      /received event e2 of "live" as seq 2 of epoch 1, but dc-a's store appended it at seq 3 of epoch 1/,
    );
  });

  it('churn: leaving a topic and joining it again starts afresh at the new joined position', () => {
    const s = receivedInOrder(1).leave(0, 'live');
    published(s, 'e2', 2);
    published(s, 'e3', 3);
    s.join(0, 'live', 1, 3);
    published(s, 'e4', 4).deliver(fa1, 'e4', [0], 1, 4);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.resumes).toBe(0);
  });

  it('churn: a batch fanned out before the leave arrives after the rejoin; it ends the old subscription, not the new one', () => {
    const s = receivedInOrder(1);
    published(s, 'e2', 2).fanOut(fa1, 'e2', [0], 1, 2);
    // Left and joined again at the frontend while e2 is still on the client link.
    s.leave(0, 'live').join(0, 'live', 1, 2).receive(fa1, 'e2', [0], 1, 2);
    published(s, 'e3', 3).deliver(fa1, 'e3', [0], 1, 3);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable).toMatchObject({ resumes: 0, streamsJudged: 1, seqsMissing: 0 });
  });

  it('planted: churn, an old seq fanned out again after the rejoin is reported', () => {
    const s = receivedInOrder(2).leave(0, 'live').join(0, 'live', 1, 2);
    s.deliver(fa1, 'e2', [0], 1, 2);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ order: 1, 'no-duplicates': 1 });
    expect(messagesOf(summary, 'order')[0]).toMatch(/as seq 2 of dc-a's epoch 1, after it had reached seq 2/);
  });

  it('a viewer that left a topic and subscribes afresh elsewhere, where the stream lags, may get again what its old subscription had: a new subscription, not a reconnect', () => {
    const s = receivedInOrder(2).leave(0, 'live').close(0);
    // fa2's stream stands at seq 1 when the viewer's fresh subscription joins there.
    s.open(1, 0, fa2).join(1, 'live', 1, 1).deliver(fa2, 'e2', [1], 1, 2);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.resumes).toBe(0);
  });

  it('an unsubscribe, then later a new connection, starts afresh too', () => {
    const s = receivedInOrder(1).leave(0, 'live').close(0);
    published(s, 'e2', 2);
    s.open(1, 0, fa2).join(1, 'live', 1, 2);
    published(s, 'e3', 3).deliver(fa2, 'e3', [1], 1, 3);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.resumes).toBe(0);
  });

  it('a reconnect resumes where the lost connection stopped: the catch-up after its joined, then live events', () => {
    const s = receivedInOrder(2).close(0);
    published(s, 'e3', 3);
    published(s, 'e4', 4);
    s.open(1, 0, fa2, ['live'])
      .join(1, 'live', 1, 4, true)
      .deliver(fa2, 'e3', [1], 1, 3)
      .deliver(fa2, 'e4', [1], 1, 4);
    published(s, 'e5', 5).deliver(fa2, 'e5', [1], 1, 5);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable).toMatchObject({ resumes: 1, streamsJudged: 1 });
  });

  it('a gap told to a connection that closed before the notice could reach its viewer: the resume goes on from what the viewer received', () => {
    const s = receivedInOrder(2);
    published(s, 'e3', 3);
    published(s, 'e4', 4);
    s.trim('dc-a', 'live', 1, 4).gap(fa1, 'live', [0], 1, 3, 4, 'trimmed').close(0);
    // The viewer's cursor is still at seq 2; dc-a/frontend-2 holds seqs 3 and 4 and gives them.
    s.open(1, 0, fa2, ['live']).join(1, 'live', 1, 2, true);
    s.deliver(fa2, 'e3', [1], 1, 3).deliver(fa2, 'e4', [1], 1, 4);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.resumes).toBe(1);
  });

  it("a reconnect's catch-up may come before its joined", () => {
    const s = receivedInOrder(2).close(0);
    published(s, 'e3', 3);
    published(s, 'e4', 4);
    // Only the batches: a fan-out to a connection not yet joined is a misdelivery to the delivery checker.
    s.open(1, 0, fa2, ['live'])
      .receive(fa2, 'e3', [1], 1, 3)
      .receive(fa2, 'e4', [1], 1, 4)
      .join(1, 'live', 1, 4, true);
    published(s, 'e5', 5).deliver(fa2, 'e5', [1], 1, 5);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.resumes).toBe(1);
  });

  it("a viewer's own disconnect (its topics left as its connection closes) is resumed like a lost connection", () => {
    const s = receivedInOrder(2).disconnect(0, ['live']);
    published(s, 'e3', 3);
    s.open(1, 0, fa2, ['live']).join(1, 'live', 1, 3, true);
    published(s, 'e4', 4).deliver(fa2, 'e4', [1], 1, 4);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ order: 1 });
    expect(messagesOf(summary, 'order')[0]).toMatch(
      /dc-a\/frontend-2#1 .* skipping seqs 3..3 with no gap notice/,
    );
  });

  it('a viewer that left the topic just as its connection closed (its unsubscribe never arrived) subscribes afresh on its next connection, by its own word', () => {
    const s = receivedInOrder(2).disconnect(0, ['live']);
    published(s, 'e3', 3);
    // The same facts as a resume but for the opened fact: it names no topic resumed.
    s.open(1, 0, fa2).join(1, 'live', 1, 3);
    published(s, 'e4', 4).deliver(fa2, 'e4', [1], 1, 4);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable).toMatchObject({ resumes: 0, streamsJudged: 1 });
  });

  it('a viewer that left the topic while its resume waited to join subscribes afresh: its join does not answer the resume', () => {
    const s = receivedInOrder(2).close(0);
    published(s, 'e3', 3);
    // The resume named "live", but the join that comes is of the subscription made after leaving.
    s.open(1, 0, fa2, ['live']).join(1, 'live', 1, 3);
    published(s, 'e4', 4).deliver(fa2, 'e4', [1], 1, 4);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable?.resumes).toBe(0);
  });

  it('planted: a viewer that received nothing yet resumes from its joined position (its cursor): skipping past it is reported', () => {
    const s = new SyntheticFacts().open(0, 0, fa1);
    published(s, 'e1', 1);
    published(s, 'e2', 2);
    s.join(0, 'live', 1, 2).close(0);
    published(s, 'e3', 3);
    published(s, 'e4', 4);
    s.open(1, 0, fa2, ['live']).join(1, 'live', 1, 4, true);
    published(s, 'e5', 5).deliver(fa2, 'e5', [1], 1, 5);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ order: 1 });
    expect(messagesOf(summary, 'order')[0]).toMatch(/skipping seqs 3..4 with no gap notice/);
    expect(summary.reliable?.resumes).toBe(1);
  });

  it('planted: a resume that skips what the lost connection had not received is reported', () => {
    const s = receivedInOrder(2).close(0);
    published(s, 'e3', 3);
    published(s, 'e4', 4);
    s.open(1, 0, fa2, ['live']).join(1, 'live', 1, 4, true);
    published(s, 'e5', 5).deliver(fa2, 'e5', [1], 1, 5);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ order: 1 });
    expect(messagesOf(summary, 'order')[0]).toMatch(
      /dc-a\/frontend-2#1 \(viewer 0\) received event e5 .* skipping seqs 3..4 with no gap notice/,
    );
  });

  it("an event its store appended again under a new epoch may reach a viewer again on a frontend that never saw it (its resume's catch-up): no duplicate", () => {
    const s = viewerJoined();
    published(s, 'e1', 1).deliver(fa1, 'e1', [0], 1, 1);
    // The store loses epoch 1; a publisher's retry appends e1 again, as seq 1 of epoch 2.
    s.down(storeA).up(storeA).append('dc-a', 'e1', 2, 1).close(0);
    s.open(1, 0, fa2, ['live']).gap(fa2, 'live', [1], 1, 2, null, 'epoch').join(1, 'live', 2, 0, true);
    s.deliver(fa2, 'e1', [1], 2, 1);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.duplicates).toBe(0);
  });

  it('planted: a resume that replays what the lost connection had is reported, and its events as duplicates of the viewer', () => {
    const s = receivedInOrder(2).close(0);
    s.open(1, 0, fa2, ['live']).join(1, 'live', 1, 2, true).deliver(fa2, 'e2', [1], 1, 2);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ order: 1, 'no-duplicates': 1 });
    expect(messagesOf(summary, 'no-duplicates')[0]).toMatch(
      /dc-a\/frontend-2#1 received event e2, which its viewer had already received on an earlier connection/,
    );
  });
});

describe('reliable mode: honest gaps (8)', () => {
  it('planted: a trimmed gap over seqs the store still holds is reported', () => {
    const s = receivedInOrder(1);
    published(s, 'e2', 2);
    published(s, 'e3', 3);
    s.trim('dc-a', 'live', 1, 1).gap(fa1, 'live', [0], 1, 2, 3, 'trimmed');
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ 'honest-gaps': 1 });
    expect(messagesOf(summary, 'honest-gaps')[0]).toMatch(
      /dc-a\/frontend-1 told 1 viewer\(s\) of "live" that seqs 2..3 of dc-a's epoch 1 were trimmed, but the store still held seqs 2..3 \(trimmed through 1, head 3\)/,
    );
  });

  it('planted: a trimmed gap over seqs the store never appended is reported', () => {
    const s = receivedInOrder(1).gap(fa1, 'live', [0], 1, 2, 4, 'trimmed');
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ 'honest-gaps': 1 });
    expect(messagesOf(summary, 'honest-gaps')[0]).toMatch(/but the store had appended only through seq 1/);
  });

  it('planted: an epoch gap from a store that never went down is reported', () => {
    const s = receivedInOrder(1).gap(fa1, 'live', [0], 1, 2, null, 'epoch');
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ 'honest-gaps': 1 });
    expect(messagesOf(summary, 'honest-gaps')[0]).toMatch(
      /seqs 2..end of dc-a's epoch 1 were lost .* never went down/,
    );
  });

  it("planted: an epoch gap for the store's live epoch, after a restart, is reported", () => {
    const s = receivedInOrder(1).down(storeA).up(storeA);
    s.publish('e2', 'live', 'dc-a')
      .append('dc-a', 'e2', 2, 1)
      .append('dc-b', 'e2', 1, 2)
      .answer('dc-a', 'e2');
    s.gap(fa1, 'live', [0], 1, 2, null, 'epoch').deliver(fa1, 'e2', [0], 2, 1);
    s.gap(fa1, 'live', [0], 2, 2, null, 'epoch');
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ 'honest-gaps': 1 });
    expect(messagesOf(summary, 'honest-gaps')[0]).toMatch(
      /of dc-a's epoch 2 were lost with their epoch, but it is the store's live epoch/,
    );
  });

  it('planted: an epoch declared lost before its first append is refuted by that append', () => {
    const s = receivedInOrder(1).down(storeA).up(storeA);
    s.gap(fa1, 'live', [0], 1, 2, null, 'epoch').gap(fa1, 'live', [0], 2, 1, null, 'epoch');
    s.publish('e2', 'live', 'dc-a')
      .append('dc-a', 'e2', 2, 1)
      .append('dc-b', 'e2', 1, 2)
      .answer('dc-a', 'e2');
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ 'honest-gaps': 1 });
    expect(messagesOf(summary, 'honest-gaps')[0]).toMatch(
      /that dc-a's store epoch 2 was lost, but the store appended event e2 in it/,
    );
  });

  it("planted: a resume told its cursor is unknown while the cursor's epoch is live is reported", () => {
    const s = receivedInOrder(2).close(0);
    s.open(1, 0, fa2, ['live'])
      .gap(fa2, 'live', [1], 1, 3, null, 'unknown-cursor')
      .join(1, 'live', 1, 2, true);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ 'honest-gaps': 1 });
    expect(messagesOf(summary, 'honest-gaps')[0]).toMatch(
      /told dc-a\/frontend-2#1 \(viewer 0\) its cursor on "live" is unknown, but the cursor \(seq 2 of epoch 1\) is in dc-a's store's live epoch/,
    );
  });

  it("a resume told its cursor is unknown after the store lost the cursor's epoch is honest, and the new epoch follows", () => {
    const s = receivedInOrder(2).close(0).down(storeA).up(storeA);
    s.publish('e3', 'live', 'dc-a')
      .append('dc-a', 'e3', 2, 1)
      .append('dc-b', 'e3', 1, 3)
      .answer('dc-a', 'e3');
    s.open(1, 0, fa2, ['live'])
      .gap(fa2, 'live', [1], 1, 3, null, 'unknown-cursor')
      .join(1, 'live', 2, 0, true);
    s.deliver(fa2, 'e3', [1], 2, 1);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable).toMatchObject({ resumes: 1, gapsUnjudged: 0, dishonestGaps: 0 });
  });

  it('an unknown-cursor gap to a connection that resumed nothing known is counted unjudged', () => {
    const s = new SyntheticFacts().open(0, 0, fa1).gap(fa1, 'live', [0], 1, 1, null, 'unknown-cursor');
    expect(judge(s.end()).reliable?.gapsUnjudged).toBe(1);
  });
});

describe('reliable mode: acknowledged means delivered (9)', () => {
  it('an event answered OK and appended in every datacenter keeps it', () => {
    const summary = judge(published(new SyntheticFacts(), 'e1', 1).end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable).toMatchObject({ acknowledged: 1, unstoredAcknowledgements: 0 });
  });

  it('planted: an event answered OK but never appended in a peer datacenter is reported', () => {
    const s = new SyntheticFacts()
      .publish('e1', 'live', 'dc-a')
      .append('dc-a', 'e1', 1, 1)
      .answer('dc-a', 'e1');
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ 'acknowledged-delivered': 1 });
    expect(messagesOf(summary, 'acknowledged-delivered')[0]).toMatch(
      /event e1, answered OK in dc-a at .* without forward-pending, was never appended in dc-b's store/,
    );
    expect(summary.violations[0]!.chain[0]).toMatch(/published on "live"/);
  });

  it('planted: an answer OK before its own datacenter appended the event is reported', () => {
    const s = new SyntheticFacts().publish('e1', 'live', 'dc-a').answer('dc-a', 'e1');
    s.append('dc-a', 'e1', 1, 1).append('dc-b', 'e1', 1, 1);
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({ 'acknowledged-delivered': 1 });
    expect(messagesOf(summary, 'acknowledged-delivered')[0]).toMatch(/before dc-a's store appended it/);
  });

  it('excused: forward-pending answers, a forward-expired drop naming the datacenter, its store going down after', () => {
    const s = new SyntheticFacts();
    s.publish('e1', 'live', 'dc-a').append('dc-a', 'e1', 1, 1).answer('dc-a', 'e1', 'forward-pending');
    s.publish('e2', 'live', 'dc-a').append('dc-a', 'e2', 1, 2).answer('dc-a', 'e2');
    s.roleDrop('dc-a/dispatcher-1', 'forward-expired', 'e2', 'dc-b');
    s.publish('e3', 'live', 'dc-a').append('dc-a', 'e3', 1, 3).answer('dc-a', 'e3').down('dc-b/store');
    const summary = judge(s.end());
    expect(broken(summary)).toEqual({});
    expect(summary.reliable).toMatchObject({ acknowledged: 2, acknowledgedPending: 1 });
  });

  it('planted: a forward-expired drop before the answer excuses nothing (the answer needed forward-pending)', () => {
    const s = new SyntheticFacts().publish('e1', 'live', 'dc-a').append('dc-a', 'e1', 1, 1);
    s.roleDrop('dc-a/dispatcher-1', 'forward-expired', 'e1', 'dc-b').answer('dc-a', 'e1');
    expect(broken(judge(s.end()))).toEqual({ 'acknowledged-delivered': 1 });
  });
});

describe('which checkers each mode runs', () => {
  /** A viewer joined well before a publish that never reaches it, and the event's deadline. */
  function undelivered(mode: 'best-effort' | 'reliable'): Fact[] {
    const s = new SyntheticFacts(mode).open(0, 0, fa1).join(0, 'live', 1, 0).at(2_000);
    s.publish('e1', 'live', 'dc-a').append('dc-a', 'e1', 1, 1).append('dc-b', 'e1', 1, 1).at(4_500);
    return settledEnd(s.due('e1'));
  }

  it('best-effort: a delivery missing at its deadline is an unexplained loss; nothing reliable is judged', () => {
    const summary = judge(undelivered('best-effort'));
    expect(broken(summary)).toEqual({ 'explained-loss': 1, 'fault-free-liveness': 1 });
    expect(summary.reliable).toBeUndefined();
  });

  it('reliable: the same missing delivery is counted, but judged only by eventual delivery at the end', () => {
    const summary = judge(undelivered('reliable'));
    expect(broken(summary)).toEqual({ 'eventual-delivery': 1 });
    expect(summary.lost.unexplained).toBe(1);
  });

  it('the judged invariants: loss by its causes in best-effort only, 6-9 in reliable only, the rest in both', () => {
    const only = (a: readonly InvariantName[], b: readonly InvariantName[]): InvariantName[] =>
      a.filter((name) => !b.includes(name));
    const { 'best-effort': bestEffort, reliable } = judgedInvariants;
    expect(only(bestEffort, reliable)).toEqual(['explained-loss', 'fault-free-liveness']);
    expect(only(reliable, bestEffort)).toEqual([
      'eventual-delivery',
      'order',
      'honest-gaps',
      'acknowledged-delivered',
    ]);
    const summary = judge(new SyntheticFacts().end());
    expect(Object.keys(summary.violationCounts).sort()).toEqual(
      [...new Set([...bestEffort, ...reliable])].sort(),
    );
  });
});

describe('lease hygiene, reliable mode', () => {
  const d1 = 'dc-a/dispatcher-1';
  const { roles } = syntheticScenario('reliable');
  /** The window a delivery's later attempts take after its first: `deliverTimeoutMs` apart. */
  const retryMs = (roles.deliverAttemptsMax - 1) * roles.deliverTimeoutMs;
  /** fa1 holds a lease on "live" until 9 s; e1 is sent to it at 1 s; its viewer leaves at 1.1 s, removing the lease. */
  function removedWhileDelivering(): SyntheticFacts {
    const s = viewerJoined().lease('dc-a', 'live', fa1, 'granted', 9_000);
    published(s.at(1_000), 'e1', 1).send('deliver', d1, fa1, 'e1');
    return s.at(1_100).leave(0, 'live').lease('dc-a', 'live', fa1, 'removed');
  }

  it("a delivery begun while the lease was live is retried after the frontend's unsubscribe removed it: no breach (the dispatcher knows the expiry, not the removal)", () => {
    const s = removedWhileDelivering()
      .at(1_000 + retryMs)
      .send('deliver', d1, fa1, 'e1');
    expect(broken(judge(s.end()))).toEqual({});
  });

  it('planted: a delivery sent past the retry window after the removal is reported', () => {
    const lateMs = 1_100 + retryMs + roles.storeRequestTimeoutMs + 10;
    const s = removedWhileDelivering().at(lateMs).send('deliver', d1, fa1, 'e1');
    expect(broken(judge(s.end()))).toEqual({ 'lease-hygiene': 1 });
  });

  it('planted: best-effort keeps the stricter rule: one store round trip after the removal, no more', () => {
    const s = new SyntheticFacts('best-effort').open(0, 0, fa1).join(0, 'live', 1, 0);
    s.lease('dc-a', 'live', fa1, 'granted', 9_000).publish('e1', 'live', 'dc-a');
    s.at(1_100).leave(0, 'live').lease('dc-a', 'live', fa1, 'removed');
    s.at(1_100 + roles.storeRequestTimeoutMs + 10).send('deliver', d1, fa1, 'e1');
    expect(broken(judge(s.end()))).toMatchObject({ 'lease-hygiene': 1 });
  });
});

describe('lease without viewers, reliable mode', () => {
  const scenario = syntheticScenario('reliable');
  /** A viewer of "live" at fa1 leaves at 1 s; at 2 s the store renews fa1's lease on it (a new viewer waits to join, unseen). */
  function renewedAfterTheLastViewerLeft(): SyntheticFacts {
    const s = viewerJoined().lease('dc-a', 'live', fa1, 'granted', 2_000);
    return s.at(1_000).leave(0, 'live').at(2_000).lease('dc-a', 'live', fa1, 'renewed', 4_000);
  }
  const pastTheBoundMs = 2_000 + withoutViewersUs(scenario) / 1_000 + 100;

  it('a renewal whose answer was lost: the viewer waiting for it to join may wait past the bound, no breach', () => {
    const s = renewedAfterTheLastViewerLeft().dropLease('lease-reply', 'dc-a/dispatcher-1', fa1, fa1);
    expect(broken(judge(s.at(pastTheBoundMs).end()))).toEqual({});
  });

  it('planted: a renewal with no viewer joining within the bound and nothing lost on its lease path is reported', () => {
    const summary = judge(renewedAfterTheLastViewerLeft().at(pastTheBoundMs).end());
    expect(broken(summary)).toEqual({ 'lease-without-viewers': 1 });
  });

  it('a grant whose viewer subscribed and left while waiting to join: the frontend gave the lease back at once, no breach', () => {
    // The viewer's subscribe and unsubscribe both reached fa2 before any answer: it never joined.
    const s = new SyntheticFacts().lease('dc-a', 'live', fa2, 'granted', 2_000);
    s.lease('dc-a', 'live', fa2, 'removed');
    expect(broken(judge(s.at(pastTheBoundMs).end()))).toEqual({});
  });

  it('planted: a grant to a frontend that never had a viewer, kept, is reported', () => {
    const s = new SyntheticFacts().lease('dc-a', 'live', fa2, 'granted', 9_000);
    expect(broken(judge(s.at(pastTheBoundMs).end()))).toEqual({ 'lease-without-viewers': 1 });
  });

  it("planted: another frontend's lost lease message explains nothing", () => {
    const s = renewedAfterTheLastViewerLeft().dropLease('lease-reply', 'dc-a/dispatcher-1', fa2, fa2);
    expect(broken(judge(s.at(pastTheBoundMs).end()))).toEqual({ 'lease-without-viewers': 1 });
  });
});

describe('liveness after heal, by mode', () => {
  /**
   * Viewer 0 at dc-a/frontend-1 since the start; once the world has settled, event e1 is published
   * in dc-b and one of its messages is lost on the way (random loss); then its deadline passes.
   */
  function lostAfterSettling(
    mode: 'best-effort' | 'reliable',
    lost: (s: SyntheticFacts) => SyntheticFacts,
  ): CheckerSummary {
    const scenario = syntheticScenario(mode);
    const s = new SyntheticFacts(mode).open(0, 0, fa1).join(0, 'live', 1, 0);
    lost(s.at(settleMs(scenario) + 1_000).publish('e1', 'live', 'dc-b'));
    return judge(
      s
        .at(settleMs(scenario) + 1_000 + scenario.deliveryDeadlineMs)
        .due('e1')
        .end(),
    );
  }
  const appendLost = (s: SyntheticFacts): SyntheticFacts =>
    s.drop('store-request', 'dc-b/dispatcher-1', 'dc-b/store', 'e1');

  it("reliable: an event whose origin's store never got its append goes nowhere; the lost request explains the loss in every datacenter", () => {
    const summary = lostAfterSettling('reliable', appendLost);
    expect(broken(summary)).toEqual({});
    expect(summary.lost.byCause).toEqual({ 'message-loss': 1 });
    expect(summary.liveness.eventsChecked).toBe(1);
  });

  it('planted: reliable, a lost message on another path (a deliver to another frontend) explains nothing', () => {
    const summary = lostAfterSettling('reliable', (s) =>
      s.append('dc-b', 'e1', 1, 1).append('dc-a', 'e1', 1, 1).drop('deliver', 'dc-a/dispatcher-1', fa2, 'e1'),
    );
    expect(broken(summary)).toMatchObject({ 'liveness-after-heal': 1 });
  });

  /** e1 appended at seq 1 in dc-b (as lostAfterSettling publishes it) and trimmed, and a gap told to `connections` for it. */
  const toldAway =
    (connections: number[]) =>
    (s: SyntheticFacts): SyntheticFacts =>
      s
        .append('dc-b', 'e1', 1, 1)
        .append('dc-a', 'e1', 1, 1)
        .trim('dc-a', 'live', 1, 1)
        .gap(fa1, 'live', connections, 1, 1, 1, 'trimmed');

  it("reliable: a viewer told by a gap notice that the event's seq will not reach it is not a loss", () => {
    const summary = lostAfterSettling('reliable', toldAway([0]));
    expect(broken(summary)).toEqual({});
    expect(summary.lost.byCause).toEqual({ 'gap-notice': 1 });
  });

  it('planted: reliable, a gap notice told to another connection excuses nothing', () => {
    const summary = lostAfterSettling('reliable', (s) =>
      toldAway([1])(s.open(1, 1, fa1).join(1, 'live', 1, 0)),
    );
    expect(broken(summary)).toMatchObject({ 'liveness-after-heal': 1 });
  });

  it("planted: best-effort, the origin's lost lookup explains nothing in a peer datacenter (the forward never waited for it)", () => {
    const summary = lostAfterSettling('best-effort', appendLost);
    expect(broken(summary)).toEqual({
      'explained-loss': 1,
      'fault-free-liveness': 1,
      'liveness-after-heal': 1,
    });
  });
});

describe('reliable mode: retention', () => {
  it("an event's store positions are forgotten with its retention", () => {
    const s = new SyntheticFacts();
    published(s, 'e1', 1).at(4_000).due('e1');
    const checkers = new Checkers();
    for (const fact of s.facts) checkers.apply(fact);
    expect(checkers.held().storePositions).toBe(1);
    s.at(4_000 + eventRetentionUs(syntheticScenario('reliable')) / 1_000 + 1).open(0, 0, fa1);
    checkers.apply(s.facts.at(-1)!);
    expect(checkers.held().storePositions).toBe(0);
  });
});
