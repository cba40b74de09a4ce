// Goal: the reliable measurement's judge counts a real loss, duplicate, inversion or hole every time,
// and explains a miss only by a gap notice that truly covers it (or, lacking any known place, by a
// store loss in the viewer's datacenter), so its zeros on real processes mean something.
// Method: hand-built publishes and viewer logs of two datacenters: a clean run, then each planted
// bug (an event dropped, received twice, out of order, an epoch gone back, a gap beside the miss,
// a store loss forgotten, an event appended again after an epoch change and missed there, a stream
// that stalls).
import { describe, expect, it } from 'vitest';
import type { Gap } from '../core/index.ts';
import { checkDefaults, checkReliable } from './reliable-check.ts';
import type { CheckedViewer, DcOutage, PublishOutcome, StoreLoss } from './reliable-check.ts';
import type { ViewerLog } from './reliable-viewer.ts';

const topic = 't';

type Step =
  | { join: [epoch: number, seq: number] }
  | { event: string; at: [epoch: number, seq: number] }
  | { gap: Omit<Gap, 'topic'> };

function viewer(
  name: string,
  dc: string,
  steps: Step[],
  extra: { closedAtMs?: number; joinedAtMs?: number } = {},
): CheckedViewer {
  const log: ViewerLog = {
    events: [],
    joins: [],
    gaps: [],
    notices: [],
    connections: [{ frontend: `http://${dc}`, openedAtMs: 0, endedAtMs: null, reason: null }],
    failedAttempts: [],
    failedAttemptsTotal: 0,
  };
  steps.forEach((step, n) => {
    const atMs = 100 + n;
    if ('join' in step) {
      const [epoch, seq] = step.join;
      log.joins.push({ n, topic, position: { dc, epoch, seq }, atMs: extra.joinedAtMs ?? 1, connection: 0 });
    } else if ('event' in step) {
      const [epoch, seq] = step.at;
      log.events.push({ n, id: step.event, topic, position: { dc, epoch, seq }, atMs, connection: 0 });
    } else {
      log.gaps.push({ n, gap: { topic, ...step.gap }, atMs, connection: 0 });
    }
  });
  return {
    spec: { name, dc, transport: 'sse', frontends: [], first: 0, topics: [topic] },
    log,
    closedAtMs: () => extra.closedAtMs ?? null,
  };
}

/** Publish `id` to `dc`, sent at `sentAtMs`, answered 200 at the position given (or failed: status 0). */
function publish(
  id: string,
  dc: string,
  sentAtMs: number,
  position: [number, number] | null,
  status = 200,
): PublishOutcome {
  return {
    id,
    topic,
    dc,
    sentAtMs,
    answeredAtMs: status === 0 ? null : sentAtMs + 5,
    status,
    position: position === null ? null : { epoch: position[0], seq: position[1] },
    warning: null,
  };
}

// Six publishes alternating between dc-a and dc-b; each datacenter sequences them 1..6 in epoch 1.
const publishes = [1, 2, 3, 4, 5, 6].map((n) =>
  publish(`p${n}`, n % 2 === 1 ? 'dc-a' : 'dc-b', 10 * n, [1, n]),
);
const all = (exclude: string[] = []): Step[] => [
  { join: [1, 0] },
  ...[1, 2, 3, 4, 5, 6]
    .filter((n) => !exclude.includes(`p${n}`))
    .map((n): Step => ({ event: `p${n}`, at: [1, n] })),
];

function check(
  viewers: CheckedViewer[],
  losses: StoreLoss[] = [],
  list = publishes,
  outages: DcOutage[] = [],
) {
  return checkReliable(list, viewers, { storeLosses: losses, outages }, checkDefaults);
}

describe('reliable check', () => {
  it('a clean run in two datacenters: everything owed received, nothing else counted', () => {
    const result = check([viewer('a', 'dc-a', all()), viewer('b', 'dc-b', all())]);
    expect(result.ok).toBe(true);
    expect(result.totals).toMatchObject({
      viewers: 2,
      owed: 12,
      received: 12,
      lost: 0,
      duplicates: 0,
      inversions: 0,
      holes: 0,
    });
  });

  it('planted: an event dropped is a loss, named, and a hole in the order', () => {
    const result = check([viewer('a', 'dc-a', all(['p3'])), viewer('b', 'dc-b', all())]);
    expect(result.ok).toBe(false);
    expect(result.viewers[0]).toMatchObject({ lost: 1, lostIds: ['p3'], holes: 1 });
    expect(result.viewers[1]).toMatchObject({ lost: 0, holes: 0 });
  });

  it('a miss covered by a gap notice of its seq is explained; a gap beside it explains nothing', () => {
    const covered = [...all(['p3']), { gap: { epoch: 1, fromSeq: 3, toSeq: 3, why: 'trimmed' } } as Step];
    expect(check([viewer('a', 'dc-a', covered)]).viewers[0]).toMatchObject({
      lost: 0,
      coveredByGap: 1,
      holes: 0,
    });
    const beside = [...all(['p3']), { gap: { epoch: 1, fromSeq: 4, toSeq: 5, why: 'trimmed' } } as Step];
    expect(check([viewer('a', 'dc-a', beside)]).viewers[0]).toMatchObject({ lost: 1, holes: 1 });
    const otherEpoch = [...all(['p3']), { gap: { epoch: 2, fromSeq: 1, toSeq: null, why: 'epoch' } } as Step];
    expect(check([viewer('a', 'dc-a', otherEpoch)]).viewers[0]).toMatchObject({ lost: 1 });
  });

  it('planted: an event received twice is a duplicate; one received out of order is an inversion', () => {
    const twice = [...all(), { event: 'p6', at: [1, 6] } as Step];
    expect(check([viewer('a', 'dc-a', twice)]).viewers[0]).toMatchObject({ duplicates: 1, inversions: 1 });
    const swapped: Step[] = [
      { join: [1, 0] },
      ...[1, 2, 4, 3, 5, 6].map((n): Step => ({ event: `p${n}`, at: [1, n] })),
    ];
    const result = check([viewer('a', 'dc-a', swapped)]);
    expect(result.ok).toBe(false);
    expect(result.viewers[0]).toMatchObject({ inversions: 1, duplicates: 0, lost: 0 });
  });

  it('planted: an epoch older than one already received is an inversion', () => {
    const list = [...publishes, publish('q1', 'dc-a', 70, [2, 1])];
    const back: Step[] = [
      { join: [1, 0] },
      ...[1, 2, 3, 4, 5].map((n): Step => ({ event: `p${n}`, at: [1, n] })),
      { gap: { epoch: 1, fromSeq: 6, toSeq: null, why: 'epoch' } },
      { event: 'q1', at: [2, 1] },
      { event: 'p6', at: [1, 6] },
    ];
    expect(check([viewer('a', 'dc-a', back)], [], list).viewers[0]).toMatchObject({ inversions: 1 });
  });

  it('an epoch change: the rest of the old epoch covered by its gap notice, the new epoch from seq 1', () => {
    // dc-a's store is lost after p4: p5 (dc-a, answered at (1,5)) and p6 (from dc-b, no place in dc-a
    // known) never reach dc-a's viewer, which is told the rest of epoch 1 is gone; q1 is epoch 2's first.
    const list = [...publishes, publish('q1', 'dc-a', 70, [2, 1])];
    const steps: Step[] = [
      { join: [1, 0] },
      ...[1, 2, 3, 4].map((n): Step => ({ event: `p${n}`, at: [1, n] })),
      { gap: { epoch: 1, fromSeq: 5, toSeq: null, why: 'epoch' } },
      { event: 'q1', at: [2, 1] },
    ];
    const loss: StoreLoss = { dc: 'dc-a', atMs: 65 };
    const result = check([viewer('a', 'dc-a', steps)], [loss], list);
    expect(result.ok).toBe(true);
    expect(result.viewers[0]).toMatchObject({ coveredByGap: 1, coveredByTime: 1, lost: 0, holes: 0 });

    // Planted: the store loss forgotten, the forward with no known place is a loss.
    expect(check([viewer('a', 'dc-a', steps)], [], list).viewers[0]).toMatchObject({
      coveredByTime: 0,
      lost: 1,
      lostIds: ['p6'],
    });
    // A store loss in the other datacenter explains nothing here.
    expect(check([viewer('a', 'dc-a', steps)], [{ dc: 'dc-b', atMs: 65 }], list).viewers[0]).toMatchObject({
      lost: 1,
    });
    // Planted: no gap notice for the rest of epoch 1: the losses stand, and the skip is a hole.
    const silent = steps.filter((s) => !('gap' in s));
    expect(check([viewer('a', 'dc-a', silent)], [loss], list).viewers[0]).toMatchObject({
      lost: 2,
      holes: 1,
    });
  });

  it('an event appended again after an epoch change must be received at its new place', () => {
    // p5 was at (1,5) in dc-a; the store lost epoch 1 and p5 was appended again at (2,1), where
    // viewer b received it. Viewer a's gap covers (1,5) but not (2,1): a loss (and a hole at 2,1).
    const list = [...publishes.slice(0, 5), publish('q2', 'dc-a', 70, [2, 2])];
    const before = [1, 2, 3, 4].map((n): Step => ({ event: `p${n}`, at: [1, n] }));
    const gap: Step = { gap: { epoch: 1, fromSeq: 5, toSeq: null, why: 'epoch' } };
    const b = viewer('b', 'dc-a', [
      { join: [1, 0] },
      ...before,
      gap,
      { event: 'p5', at: [2, 1] },
      { event: 'q2', at: [2, 2] },
    ]);
    const a = viewer('a', 'dc-a', [{ join: [1, 0] }, ...before, gap, { event: 'q2', at: [2, 2] }]);
    const result = check([a, b], [{ dc: 'dc-a', atMs: 65 }], list);
    expect(result.viewers[1]).toMatchObject({ lost: 0, holes: 0 });
    expect(result.viewers[0]).toMatchObject({ lost: 1, lostIds: ['p5'], holes: 1 });
  });

  it('owes only what was sent after the join and, for a viewer that left, answered well before it left', () => {
    const late = viewer('late', 'dc-a', [{ join: [1, 3] }, { event: 'p4', at: [1, 4] }], { joinedAtMs: 35 });
    expect(check([late]).viewers[0]).toMatchObject({ owed: 3, received: 1, lost: 2 });
    const lateAll = viewer(
      'late',
      'dc-a',
      [{ join: [1, 3] }, ...[4, 5, 6].map((n): Step => ({ event: `p${n}`, at: [1, n] }))],
      { joinedAtMs: 35 },
    );
    expect(check([lateAll]).viewers[0]).toMatchObject({ owed: 3, received: 3, lost: 0, holes: 0 });
    const leaver = viewer('leaver', 'dc-a', all(['p6']), {
      closedAtMs: 60 + 5 + checkDefaults.leaveSlackMs - 1,
    });
    expect(check([leaver]).viewers[0]).toMatchObject({ owed: 5, lost: 0 });
  });

  it('a seq skipped that no acknowledged publish explains is still a hole; a failed publish is owed to no one', () => {
    const list = publishes.map((p) =>
      p.id === 'p3' ? { ...p, status: 0, answeredAtMs: null, position: null } : p,
    );
    const result = check([viewer('a', 'dc-a', all(['p3']))], [], list);
    expect(result.viewers[0]).toMatchObject({ owed: 5, lost: 0, holes: 1 });
    expect(result.ok).toBe(false);
  });

  it('planted: a stream that stalls is behind, even where no acknowledged publish is missed', () => {
    // The stall: viewer a stops after p4; p5 and p6 are lost and behind, yet no seq was skipped.
    const stalled = check([viewer('a', 'dc-a', all(['p5', 'p6'])), viewer('b', 'dc-a', all())]);
    expect(stalled.viewers[0]).toMatchObject({
      lost: 2,
      holes: 0,
      behind: 2,
      firstBehind: { topic, epoch: 1, seq: 5, id: 'p5' },
    });
    expect(stalled.viewers[1]).toMatchObject({ behind: 0, firstBehind: null });
    // p6's publish failed (no answer), yet b received it at (1,6): a must have it too.
    const list = publishes.map((p) =>
      p.id === 'p6' ? { ...p, status: 0, answeredAtMs: null, position: null } : p,
    );
    const unacked = check([viewer('a', 'dc-a', all(['p6'])), viewer('b', 'dc-a', all())], [], list);
    expect(unacked.viewers[0]).toMatchObject({ lost: 0, holes: 0, behind: 1 });
    expect(unacked.ok).toBe(false);
    // A viewer that left stops where it left.
    const left = viewer('a', 'dc-a', all(['p5', 'p6']), { closedAtMs: 1_000_000 });
    expect(check([left, viewer('b', 'dc-a', all())]).viewers[0]).toMatchObject({ behind: 0 });
  });

  it('behind counts a newer epoch too, unless the gap notices cover it', () => {
    const list = [...publishes.slice(0, 4), publish('q1', 'dc-a', 70, [2, 1])];
    const before = [1, 2, 3, 4].map((n): Step => ({ event: `p${n}`, at: [1, n] }));
    const rest: Step = { gap: { epoch: 1, fromSeq: 5, toSeq: null, why: 'epoch' } };
    const b = viewer('b', 'dc-a', [{ join: [1, 0] }, ...before, rest, { event: 'q1', at: [2, 1] }]);
    const a = viewer('a', 'dc-a', [{ join: [1, 0] }, ...before, rest]);
    const result = check([a, b], [{ dc: 'dc-a', atMs: 65 }], list);
    expect(result.viewers[0]).toMatchObject({
      lost: 1,
      behind: 1,
      firstBehind: { epoch: 2, seq: 1, id: 'q1' },
    });
    const told = viewer('a', 'dc-a', [
      { join: [1, 0] },
      ...before,
      rest,
      { gap: { epoch: 2, fromSeq: 1, toSeq: 1, why: 'trimmed' } },
    ]);
    expect(check([told, b], [{ dc: 'dc-a', atMs: 65 }], list).viewers[0]).toMatchObject({
      lost: 0,
      behind: 0,
    });
  });

  it('a datacenter out of reach until past the forwarding window is excused a pending forward; nothing else is', () => {
    // dc-b is out of reach from 30 (before p3's answer at 35) until p3's answer + the window: p3,
    // from dc-a and answered forward-pending, is excused for dc-b's viewer; p4 (dc-b's own) is not,
    // nor is p5 (its window outlasts the outage).
    const list = publishes.map((p) => (p.dc === 'dc-a' ? { ...p, warning: 'forward-pending' } : p));
    const end = 35 + checkDefaults.forwardWindowMs;
    const outage: DcOutage = { dc: 'dc-b', fromMs: 30, toMs: end };
    const missed = viewer('b', 'dc-b', all(['p3', 'p4', 'p5']));
    const result = check([missed], [], list, [outage]);
    expect(result.viewers[0]).toMatchObject({ pastForwardWindow: 1, lost: 2, lostIds: ['p4', 'p5'] });
    // Planted: the outage ends a millisecond too early for p3's window: a loss.
    const short = check([missed], [], list, [{ ...outage, toMs: end - 1 }]);
    expect(short.viewers[0]).toMatchObject({ pastForwardWindow: 0, lost: 3 });
    // Planted: the outage began after the answer: dc-b was reachable during the window.
    expect(check([missed], [], list, [{ ...outage, fromMs: 36 }]).viewers[0]).toMatchObject({ lost: 3 });
    // An answer without the warning means dc-b had acknowledged it: it is owed whatever happened.
    expect(check([missed], [], publishes, [outage]).viewers[0]).toMatchObject({ lost: 3 });
    // An outage of the viewer's own datacenter excuses nothing in another.
    expect(check([viewer('a', 'dc-a', all(['p3']))], [], list, [outage]).viewers[0]).toMatchObject({
      lost: 1,
    });
  });
});
