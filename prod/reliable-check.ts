/**
 * The judge of a reliable-mode measurement on real processes: from the publishes (with their
 * answers) and what each viewer recorded (prod/reliable-viewer.ts), count per viewer the
 * acknowledged publishes it never received that no gap notice explains, its duplicates and its
 * order inversions. Pure: plain data in, counts out; prod/reliable-check.test.ts shows every count
 * failing on a planted bug.
 *
 * Rules
 * - Owed: a viewer owes a publish answered 200 (acknowledged, warning or not) of a topic it is on,
 *   sent after the viewer joined that topic (its first `subscribed`, else its first connection
 *   opening) and after `fromMs`, and answered by `untilMs`; a viewer that left owes only those answered `leaveSlackMs` before
 *   it left. A publish sent after the join was appended after it, in the publisher's datacenter
 *   and, forwarded later still, in any other: the viewer was subscribed while it was published.
 * - Received: some event with the publish's id reached the viewer (on any of its connections).
 * - Positions: an event's places in datacenter D's history are what D knows of it: the position
 *   in the 200 answer of a publish to a dispatcher of D, and every position at which a viewer of D
 *   received it. An event has more than one place in D only when D's store lost the epoch of the
 *   first and the event was appended again.
 * - Covered by a gap: a missed publish with places in the viewer's datacenter is explained when
 *   EVERY one of those places is covered by a gap notice the viewer got (same topic and epoch,
 *   fromSeq <= seq <= toSeq, toSeq null meaning the rest of the epoch). One place left uncovered
 *   (say, where it was appended again after an epoch change) is a place the viewer should have been
 *   given it: a loss.
 * - Covered by time: a missed publish with no place known in the viewer's datacenter (a forward no
 *   viewer there received and whose position no one reported: it can only have been appended
 *   there in an epoch that was then lost before any delivery) is explained only when the viewer
 *   got a gap notice for the rest of an epoch (toSeq null) of that topic AND the datacenter's
 *   store was lost (`storeLosses`) after the publish was sent and within `epochLossReachMs` of it
 *   (the forwarding window: a forward is appended within it or never). Counted apart from the
 *   covered-by-gap ones, so a reader sees how many rest on time alone.
 * - Past the forwarding window (docs/design.md invariant 9 promises delivery in every datacenter
 *   "reachable again within the forwarding window"): a missed publish accepted in another
 *   datacenter is excused when its answer said its forward was still pending (`forward-pending`:
 *   the viewer's datacenter had not acknowledged it) and that datacenter was out of reach
 *   (`outages`) from before the answer until `forwardWindowMs` after it. The forward's first try
 *   came before the answer and its window ends by then, so the datacenter was reachable at most
 *   between the sending and the answer (about a second), and not again within the window. Counted
 *   apart.
 * - Lost: owed, not received, not covered, not excused: the count that must be 0.
 * - Duplicates: receipts of an event id the viewer had already received (across its connections).
 * - Inversions: per viewer, topic and datacenter, a receipt whose (epoch, seq) is not after the
 *   previous receipt's: seq not above the last in the same epoch, or an epoch older than one
 *   already seen.
 * - Holes (docs/design.md invariant 7, "no gap except where a gap notice stands"): per viewer and
 *   topic, the seqs skipped between its join position or its last receipt and the next receipt
 *   (within an epoch; across an epoch change, the rest of the old epoch and seqs 1.. of the new)
 *   that no gap notice the viewer got covers. A resume's join keeps the stream where it was.
 *   Holes also catch events appended but never acknowledged (a publish whose answer was lost).
 * - Behind (docs/design.md invariant 6, eventual delivery): per viewer still there and topic, once drained, the seqs
 *   of its datacenter's history known to exist (a publish answer's position, any viewer's receipt
 *   there) after where its stream stands, in its epoch and any newer one, that no gap notice the
 *   viewer got covers. A frontend that stops delivering a topic (waiting for a seq it never gets)
 *   shows here, and the first such place is named (`firstBehind`), with the event there if known.
 */
import { createDispatcher } from '../core/index.ts';
import type { DcId, Gap } from '../core/index.ts';
import type { FaultViewer, WirePosition } from './reliable-viewer.ts';

/** A publish as the measurement sent it, with its answer. */
export interface PublishOutcome {
  id: string;
  topic: string;
  /** The datacenter of the dispatcher it was sent to. */
  dc: DcId;
  sentAtMs: number;
  /** Null while unanswered or when the request failed. */
  answeredAtMs: number | null;
  /** HTTP status; 0 when the request failed. */
  status: number;
  /** The 200 answer's position in `dc`'s history. */
  position: { epoch: number; seq: number } | null;
  /** The 200 answer's warning code, if any. */
  warning: string | null;
}

/** A datacenter's store lost its data (its Redis was killed) at `atMs`. */
export interface StoreLoss {
  dc: DcId;
  atMs: number;
}

/** No dispatcher of `dc` could be reached from `fromMs` to `toMs` (its processes were dead). */
export interface DcOutage {
  dc: DcId;
  fromMs: number;
  toMs: number;
}

/** What the faults did that may excuse a miss: stores that lost their data, datacenters out of reach. */
export interface FaultFacts {
  storeLosses: readonly StoreLoss[];
  outages: readonly DcOutage[];
}

export const noFaults: FaultFacts = { storeLosses: [], outages: [] };

/**
 * How long a dispatcher keeps forwarding an event to a peer datacenter: production's dispatchers
 * run core's default (prod/ sets none), read from it so the two never part.
 */
export const forwardWindowMs = createDispatcher({ nodeId: 'n', dc: 'dc', idPrefix: 'p' }).config
  .forwardWindowMs;

export interface CheckOptions {
  /** Publishes sent before this are owed to no one (probes, warm-up). */
  fromMs: number;
  /** Publishes answered after this are not owed yet (a soak's check while it runs). */
  untilMs: number;
  /** A viewer that left owes only publishes answered this long before it left. */
  leaveSlackMs: number;
  /** Covered by time: the store loss must come within this of the publish's sending. */
  epochLossReachMs: number;
  /** A peer's forwards stop this long after the first try (`forwardWindowMs`). */
  forwardWindowMs: number;
  /** Lost publishes listed by id, per viewer, at most. */
  lostListedMax: number;
}

export const checkDefaults: CheckOptions = {
  fromMs: 0,
  untilMs: Infinity,
  leaveSlackMs: 10_000,
  epochLossReachMs: 30_000,
  forwardWindowMs,
  lostListedMax: 5,
};

export interface ViewerVerdict {
  name: string;
  dc: DcId;
  transport: string;
  owed: number;
  received: number;
  coveredByGap: number;
  coveredByTime: number;
  /** Missed publishes of another datacenter that this one was out of reach for a whole forwarding window. */
  pastForwardWindow: number;
  lost: number;
  /** The first `lostListedMax` lost publishes' ids. */
  lostIds: string[];
  duplicates: number;
  inversions: number;
  /** Seqs skipped with no gap notice covering them (an open-ended skip counts 1). */
  holes: number;
  /** Known seqs after where the viewer's stream stands, neither received nor covered by a gap. */
  behind: number;
  /** The first of them: topic, epoch, seq, and the event id there if known. */
  firstBehind: { topic: string; epoch: number; seq: number; id: string | null } | null;
  /** Receipts without a position, or with another datacenter's: not judged for order. */
  unpositioned: number;
  gaps: number;
  /** Connections after the first. */
  reconnects: number;
}

export interface CheckTotals {
  viewers: number;
  owed: number;
  received: number;
  coveredByGap: number;
  coveredByTime: number;
  pastForwardWindow: number;
  lost: number;
  duplicates: number;
  inversions: number;
  holes: number;
  behind: number;
  unpositioned: number;
  gaps: number;
  reconnects: number;
}

export interface CheckResult {
  viewers: ViewerVerdict[];
  totals: CheckTotals;
  /** Whether the promises hold: no loss, no duplicate, no inversion, no hole, none behind. */
  ok: boolean;
}

/** What of a viewer the check reads: its spec's name, dc, transport and topics, its log, its leaving. */
export type CheckedViewer = Pick<FaultViewer, 'spec' | 'log' | 'closedAtMs'>;

export function checkReliable(
  publishes: readonly PublishOutcome[],
  viewers: readonly CheckedViewer[],
  faults: FaultFacts,
  options: CheckOptions = checkDefaults,
): CheckResult {
  const places = placesByDc(publishes, viewers);
  const acked = publishes.filter(
    (p) =>
      p.status === 200 && p.sentAtMs >= options.fromMs && (p.answeredAtMs ?? Infinity) <= options.untilMs,
  );
  const verdicts = viewers.map((viewer) =>
    judgeViewer(viewer, acked, places.get(viewer.spec.dc) ?? emptyPlaces(), faults, options),
  );
  const totals: CheckTotals = {
    viewers: verdicts.length,
    owed: 0,
    received: 0,
    coveredByGap: 0,
    coveredByTime: 0,
    pastForwardWindow: 0,
    lost: 0,
    duplicates: 0,
    inversions: 0,
    holes: 0,
    behind: 0,
    unpositioned: 0,
    gaps: 0,
    reconnects: 0,
  };
  for (const v of verdicts) {
    for (const key of Object.keys(totals) as (keyof CheckTotals)[]) {
      if (key !== 'viewers') totals[key] += v[key];
    }
  }
  const ok =
    totals.lost === 0 &&
    totals.duplicates === 0 &&
    totals.inversions === 0 &&
    totals.holes === 0 &&
    totals.behind === 0;
  return { viewers: verdicts, totals, ok };
}

type Place = { epoch: number; seq: number };

/** What one datacenter is known to hold: each event's places, and what is at each place. */
interface DcPlaces {
  /** Event id -> its places. */
  ofId: Map<string, Place[]>;
  /** `topic epoch seq` -> the event id there. */
  at: Map<string, string>;
  /** Topic -> epoch -> the highest seq known. */
  heads: Map<string, Map<number, number>>;
}

function emptyPlaces(): DcPlaces {
  return { ofId: new Map(), at: new Map(), heads: new Map() };
}

/** Per datacenter, what its history is known to hold. */
function placesByDc(
  publishes: readonly PublishOutcome[],
  viewers: readonly CheckedViewer[],
): Map<DcId, DcPlaces> {
  const byDc = new Map<DcId, DcPlaces>();
  const add = (dc: DcId, topic: string, id: string, place: Place): void => {
    let places = byDc.get(dc);
    if (places === undefined) byDc.set(dc, (places = emptyPlaces()));
    const known = places.ofId.get(id);
    if (known === undefined) places.ofId.set(id, [place]);
    else if (!known.some((k) => k.epoch === place.epoch && k.seq === place.seq)) known.push(place);
    places.at.set(`${topic} ${place.epoch} ${place.seq}`, id);
    let epochs = places.heads.get(topic);
    if (epochs === undefined) places.heads.set(topic, (epochs = new Map()));
    epochs.set(place.epoch, Math.max(epochs.get(place.epoch) ?? 0, place.seq));
  };
  for (const p of publishes) {
    if (p.status === 200 && p.position !== null) add(p.dc, p.topic, p.id, p.position);
  }
  for (const viewer of viewers) {
    for (const e of viewer.log.events) {
      if (e.position !== null)
        add(e.position.dc, e.topic, e.id, { epoch: e.position.epoch, seq: e.position.seq });
    }
  }
  return byDc;
}

function covers(gap: Gap, topic: string, epoch: number, seq: number): boolean {
  return (
    gap.topic === topic &&
    gap.epoch === epoch &&
    gap.fromSeq <= seq &&
    (gap.toSeq === null || seq <= gap.toSeq)
  );
}

/** Whether the gaps cover every seq from `fromSeq` to `toSeq` (null: to the end) of the epoch. */
function coversRange(
  gaps: readonly Gap[],
  topic: string,
  epoch: number,
  fromSeq: number,
  toSeq: number | null,
): boolean {
  const mine = gaps
    .filter((g) => g.topic === topic && g.epoch === epoch)
    .sort((a, b) => a.fromSeq - b.fromSeq);
  let next = fromSeq;
  for (const g of mine) {
    if (toSeq !== null && next > toSeq) return true;
    if (g.fromSeq > next) return false;
    if (g.toSeq === null) return true;
    next = Math.max(next, g.toSeq + 1);
  }
  return toSeq !== null && next > toSeq;
}

function judgeViewer(
  viewer: CheckedViewer,
  acked: readonly PublishOutcome[],
  places: DcPlaces,
  faults: FaultFacts,
  options: CheckOptions,
): ViewerVerdict {
  const { spec, log } = viewer;
  const gaps = log.gaps.map((g) => g.gap);
  const received = new Set<string>();
  let duplicates = 0;
  for (const e of log.events) {
    if (received.has(e.id)) duplicates++;
    else received.add(e.id);
  }

  const joinedAt = new Map<string, number>();
  const openedAt = log.connections[0]?.openedAtMs ?? Infinity;
  for (const topic of spec.topics) {
    joinedAt.set(topic, log.joins.find((j) => j.topic === topic)?.atMs ?? openedAt);
  }
  const leftAt = viewer.closedAtMs();
  const verdict: ViewerVerdict = {
    name: spec.name,
    dc: spec.dc,
    transport: spec.transport,
    owed: 0,
    received: 0,
    coveredByGap: 0,
    coveredByTime: 0,
    pastForwardWindow: 0,
    lost: 0,
    lostIds: [],
    duplicates,
    inversions: 0,
    holes: 0,
    behind: 0,
    firstBehind: null,
    unpositioned: 0,
    gaps: gaps.length,
    reconnects: Math.max(0, log.connections.length - 1),
  };
  for (const p of acked) {
    const joined = joinedAt.get(p.topic);
    if (joined === undefined || p.sentAtMs <= joined) continue;
    if (leftAt !== null && (p.answeredAtMs ?? Infinity) > leftAt - options.leaveSlackMs) continue;
    verdict.owed++;
    if (received.has(p.id)) {
      verdict.received++;
      continue;
    }
    const known = places.ofId.get(p.id) ?? [];
    if (known.length > 0) {
      if (known.every((place) => gaps.some((g) => covers(g, p.topic, place.epoch, place.seq)))) {
        verdict.coveredByGap++;
        continue;
      }
    } else if (
      gaps.some((g) => g.topic === p.topic && g.toSeq === null) &&
      faults.storeLosses.some(
        (loss) =>
          loss.dc === spec.dc && loss.atMs > p.sentAtMs && loss.atMs - p.sentAtMs <= options.epochLossReachMs,
      )
    ) {
      verdict.coveredByTime++;
      continue;
    }
    if (
      p.dc !== spec.dc &&
      p.warning === 'forward-pending' &&
      p.answeredAtMs !== null &&
      faults.outages.some(
        (o) =>
          o.dc === spec.dc &&
          o.fromMs <= p.answeredAtMs! &&
          o.toMs >= p.answeredAtMs! + options.forwardWindowMs,
      )
    ) {
      verdict.pastForwardWindow++;
      continue;
    }
    verdict.lost++;
    if (verdict.lostIds.length < options.lostListedMax) verdict.lostIds.push(p.id);
  }
  const streams = judgeOrder(viewer, gaps, verdict);
  // A viewer that left stops where it left: only one still there must have caught up.
  if (leftAt === null) judgeBehind(streams, places, gaps, verdict);
  return verdict;
}

/** The known seqs after where each stream stands (its epoch and newer), not covered by a gap. */
function judgeBehind(
  streams: Map<string, { epoch: number; next: number }>,
  places: DcPlaces,
  gaps: readonly Gap[],
  verdict: ViewerVerdict,
): void {
  for (const [topic, stream] of streams) {
    const epochs = [...(places.heads.get(topic) ?? new Map<number, number>())]
      .filter(([epoch]) => epoch >= stream.epoch)
      .sort((a, b) => a[0] - b[0]);
    for (const [epoch, head] of epochs) {
      for (let seq = epoch === stream.epoch ? stream.next : 1; seq <= head; seq++) {
        if (gaps.some((g) => covers(g, topic, epoch, seq))) continue;
        verdict.behind++;
        verdict.firstBehind ??= { topic, epoch, seq, id: places.at.get(`${topic} ${epoch} ${seq}`) ?? null };
      }
    }
  }
}

/** Inversions and uncovered holes, per topic, over the viewer's receipts and joins in arrival order. */
/** Counts inversions and holes; returns where each topic's stream stands at the end. */
function judgeOrder(
  viewer: CheckedViewer,
  gaps: readonly Gap[],
  verdict: ViewerVerdict,
): Map<string, { epoch: number; next: number }> {
  const { log, spec } = viewer;
  type Step = { n: number; topic: string; position: WirePosition | null; join: boolean };
  const steps: Step[] = [
    ...log.joins.map((j) => ({ n: j.n, topic: j.topic, position: j.position, join: true })),
    ...log.events.map((e) => ({ n: e.n, topic: e.topic, position: e.position, join: false })),
  ].sort((a, b) => a.n - b.n);
  /** Per topic: the epoch and next expected seq of the viewer's stream, and the newest epoch seen. */
  const streams = new Map<string, { epoch: number; next: number; newest: number }>();
  /** Per topic and epoch: the last seq received. */
  const lastSeq = new Map<string, number>();
  for (const step of steps) {
    const position = step.position;
    if (position === null || position.dc !== spec.dc) {
      if (!step.join) verdict.unpositioned++;
      continue;
    }
    const stream = streams.get(step.topic);
    if (step.join) {
      if (stream === undefined)
        streams.set(step.topic, { epoch: position.epoch, next: position.seq + 1, newest: position.epoch });
      continue;
    }
    const key = `${step.topic} ${position.epoch}`;
    const last = lastSeq.get(key);
    if (
      (last !== undefined && position.seq <= last) ||
      (stream !== undefined && position.epoch < stream.newest)
    ) {
      verdict.inversions++;
      continue;
    }
    lastSeq.set(key, position.seq);
    if (stream === undefined) {
      streams.set(step.topic, { epoch: position.epoch, next: position.seq + 1, newest: position.epoch });
      continue;
    }
    if (position.epoch === stream.epoch) {
      if (
        position.seq > stream.next &&
        !coversRange(gaps, step.topic, stream.epoch, stream.next, position.seq - 1)
      ) {
        verdict.holes += position.seq - stream.next;
      }
    } else {
      if (!coversRange(gaps, step.topic, stream.epoch, stream.next, null)) verdict.holes++;
      if (position.seq > 1 && !coversRange(gaps, step.topic, position.epoch, 1, position.seq - 1)) {
        verdict.holes += position.seq - 1;
      }
      stream.epoch = position.epoch;
      stream.newest = position.epoch;
    }
    stream.next = Math.max(stream.next, position.seq + 1);
  }
  return streams;
}
