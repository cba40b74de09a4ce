/**
 * Each viewer's stream of a topic (reliable mode), as its connections receive it: the order
 * invariant as it happens, eventual delivery at the run's end, and whether a gap that blamed the
 * viewer's cursor was honest.
 *
 * Rules (a stream's rules of position are viewer-stream.ts')
 * - A viewer holds one connection at a time (sim/world/clients.ts), so its stream of a topic
 *   follows it from connection to connection, within a datacenter.
 * - order: each receipt is the next seq (`batch-received` epoch/seq), at the position the store of
 *   the connection's datacenter appended the event at. A larger epoch comes only after a gap notice
 *   for the rest of the current one (`to` null: why `epoch`, or `unknown-cursor` on a resume; the
 *   honesty of the why is reliable.ts'), and then from its seq 1 (or a gap from 1).
 * - A `joined` starts a fresh stream at its position (seq + 1 comes next), unless it continues the
 *   viewer's stream (a resume, see `continues`): then what follows the viewer's cursor (the last seq
 *   its previous connection received) comes next, as a catch-up before or after the `joined`, or
 *   as a gap notice.
 * - A `joined` is told at the frontend, like a gap: batches fanned out to the same connection before
 *   it (an unsubscribe and a subscribe again while they are on the client link) still arrive, first,
 *   and belong to the subscription before it, where they are judged.
 * - eventual delivery: at the `end`, every stream whose connection is still joined has reached the
 *   head of its topic in its datacenter store's live epoch, as that head stood a catch-up time
 *   before the end (sim/settle.ts, `catchUpMs`), by receipts and gaps.
 * - honest gaps (`unknown-cursor` only; reliable.ts judges the rest): a resume is told its cursor is
 *   unknown only when the cursor's epoch is not the store's live one (a cursor in the live epoch up
 *   to the head can always be read after).
 *
 * Memory: one stream per (viewer, topic) and its pending gaps (at most `pendingGapsPerStreamMax`),
 * one viewer and datacenter per connection, and per open connection and topic the batches on its
 * client link (with the subscription they belong to, while it has some): per viewer and connection,
 * like the other projections.
 */
import type { DcId, EventId, Seq, StoreEpoch, Topic, Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { Topology } from '../topology.ts';
import type { StoreHistories } from './store-histories.ts';
import {
  advanceCursor,
  anchor,
  applyGaps,
  enter,
  tellGap,
  uncovered,
  unanchoredStream,
  type Stream,
  type StreamState,
} from './viewer-stream.ts';
import type { ViolationLog } from './violations.ts';

export class ViewerStreams {
  orderErrors = 0;
  eventualErrors = 0;
  dishonestCursorGaps = 0;
  /** `unknown-cursor` gaps told to a connection that resumed nothing the checker knows of. */
  unjudgedCursorGaps = 0;
  resumes = 0;
  /** Receipts and joins without an epoch and seq: not judged (their world does not sequence yet). */
  unpositioned = 0;
  /** Pending gaps let go at `pendingGapsPerStreamMax`. */
  gapsForgotten = 0;
  streamsJudged = 0;
  seqsMissing = 0;
  private readonly viewerOf: number[] = [];
  private readonly dcOf: DcId[] = [];
  /** Per open connection and topic, the batches fanned out to it that have not arrived yet. */
  private readonly onTheLink = new Map<number, Map<Topic, number>>();
  /** Per connection, the topics its viewer resumes from a cursor (the `opened` fact's `resumes`). */
  private readonly resumesOf: (readonly Topic[] | undefined)[] = [];
  /** Per connection, the topics it has joined (only its first join of one may answer a resume). */
  private readonly joinedOn: (Set<Topic> | undefined)[] = [];
  private readonly streams = new Map<number, Map<Topic, Stream>>();

  constructor(
    private readonly topology: Topology,
    private readonly subscriptions: Subscriptions,
    private readonly stores: StoreHistories,
    private readonly violations: ViolationLog,
  ) {}

  apply(fact: Fact): void {
    if (fact.kind === 'connection') {
      if (fact.op === 'opened') {
        this.viewerOf[fact.c] = fact.viewer;
        this.dcOf[fact.c] = this.topology.dcOf(fact.node);
        if (fact.resumes !== undefined) this.resumesOf[fact.c] = fact.resumes;
      } else if (fact.op === 'joined') this.joined(fact);
      else if (fact.op === 'left') this.left(fact.c, fact.topic, fact.t);
      else if (fact.op === 'closed') this.closed(fact.c, fact.t);
    } else if (fact.kind === 'fanned-out') {
      for (const c of fact.connections) this.addOnTheLink(c, fact.topic, 1);
    } else if (fact.kind === 'batch-received') {
      this.batchReceived(fact);
    } else if (fact.kind === 'gap') {
      for (const c of fact.connections) this.gapTold(c, fact);
    } else if (fact.kind === 'end') {
      this.judgeEnd(fact.t);
    }
  }

  /**
   * Connection `c` continues the viewer's stream when its viewer resumes the topic from a cursor on
   * it (`resumes`: its `joined` fact says so, or before that its `opened` fact), the stream's
   * connection closed while joined to the topic (a `left` at the very instant of its `closed` is the
   * closing: the viewer's disconnect, not an unsubscribe), `c` is in the same datacenter, and the
   * stream has a cursor. The viewer's own word decides, not the order of facts: a viewer that left
   * the topic just as its connection closed (its unsubscribe never reached the frontend), or while
   * its resume waited to join, dropped its cursor and subscribes afresh. So
   * core/viewer-cursors.ts keeps a viewer's cursor: set where its fresh subscription joined,
   * moved by what it receives; leaving the topic drops it; a reconnect resumes every topic it has a
   * cursor for (sim/world/clients.ts); a resume in another datacenter goes by event id, not by seq.
   */
  private continues(stream: Stream, c: number, resumes: boolean): boolean {
    return (
      resumes &&
      stream.state === 'resumable' &&
      stream.c !== c &&
      stream.dc === this.dcOf[c] &&
      stream.cursor !== null
    );
  }

  /** Before its first `joined` of `topic`, whether connection `c`'s viewer said it resumes it there. */
  private resumesBeforeJoin(c: number, topic: Topic): boolean {
    return this.resumesOf[c]?.includes(topic) === true && this.joinedOn[c]?.has(topic) !== true;
  }

  private joined(fact: Extract<Fact, { kind: 'connection'; op: 'joined' | 'left' }>): void {
    const { c, topic, epoch, seq, viewer } = fact;
    if (epoch === undefined || seq === undefined) {
      this.unpositioned++;
      return;
    }
    const resumed = fact.resumed === true;
    (this.joinedOn[c] ??= new Set()).add(topic);
    const stream = this.streamsOf(viewer).get(topic);
    if (stream !== undefined && stream.c === c && stream.state === 'joined') return;
    // Caught up before its join: the join completes the resume (unless the viewer left it meanwhile).
    const catchingUp = stream?.c === c && stream.state === 'catching-up';
    if (stream !== undefined && catchingUp && (resumed || stream.resumedFrom === null)) {
      if (stream.epoch === null) anchor(stream, epoch, seq);
      if (stream.cursor === null) stream.cursor = { epoch, seq };
      stream.state = 'joined';
      return;
    }
    if (stream !== undefined && this.continues(stream, c, resumed)) {
      this.adopt(stream, c);
      stream.state = 'joined';
      return;
    }
    const fresh = this.fresh(viewer, topic, c, 'joined');
    fresh.gaps = stream?.gaps.filter((gap) => gap.c === c) ?? [];
    const batches = this.onTheLink.get(c)?.get(topic) ?? 0;
    if (stream !== undefined && stream.c === c && batches > 0) fresh.trailing = { stream, batches };
    fresh.cursor = { epoch, seq };
    anchor(fresh, epoch, seq);
  }

  private left(c: number, topic: Topic, t: Us): void {
    const viewer = this.viewerOf[c];
    const stream = viewer === undefined ? undefined : this.streams.get(viewer)?.get(topic);
    if (stream === undefined || stream.c !== c) return;
    if (stream.state !== 'joined' && stream.state !== 'catching-up') return;
    stream.state = 'left';
    stream.leftUs = t;
  }

  private closed(c: number, t: Us): void {
    this.onTheLink.delete(c);
    this.joinedOn[c] = undefined;
    this.resumesOf[c] = undefined;
    const viewer = this.viewerOf[c];
    if (viewer === undefined) return;
    for (const stream of this.streams.get(viewer)?.values() ?? []) {
      if (stream.c !== c) continue;
      if (stream.state === 'joined' || stream.state === 'catching-up') stream.state = 'resumable';
      else if (stream.state === 'left') stream.state = stream.leftUs === t ? 'resumable' : 'over';
    }
  }

  /** One batch: at the position its datacenter's store gave the event, and next in each receiver's stream. */
  private batchReceived(fact: Extract<Fact, { kind: 'batch-received' }>): void {
    const { event, epoch, seq, node, t, connections } = fact;
    if (epoch === undefined || seq === undefined) {
      this.unpositioned += connections.length;
      return;
    }
    const dc = this.topology.dcOf(node);
    const appended = this.stores.positionsOf(event.id);
    const first = connections[0];
    if (
      first !== undefined &&
      appended !== undefined &&
      !appended.some((p) => p.dc === dc && p.epoch === epoch && p.seq === seq)
    ) {
      const there = appended.filter((p) => p.dc === dc).map((p) => `seq ${p.seq} of epoch ${p.epoch}`);
      this.orderError(
        t,
        `${connections.length} connection(s) of ${node} received event ${event.id} of "${event.topic}" as seq ${seq} of epoch ${epoch}, but ${dc}'s store appended it ${there.length === 0 ? 'nowhere' : `at ${there.join(', ')}`}`,
        { e: event.id, connection: this.subscriptions.idOf(first), node },
      );
    }
    for (const c of connections) {
      const viewer = this.viewerOf[c];
      // A connection that never opened is the frontend's invention: the misdelivery check names it.
      if (viewer === undefined) continue;
      this.addOnTheLink(c, event.topic, -1);
      let stream = this.streamOn(c, event.topic) ?? this.fresh(viewer, event.topic, c, 'catching-up');
      // Fanned out before the latest join on this connection: it belongs to the subscription before.
      while (stream.trailing !== null) {
        const trailing = stream.trailing;
        if (--trailing.batches === 0) stream.trailing = null;
        stream = trailing.stream;
      }
      if (stream.epoch === null) anchor(stream, epoch, seq - 1);
      this.judgeReceipt(stream, epoch, seq, fact);
      advanceCursor(stream, epoch, seq);
    }
  }

  private judgeReceipt(
    stream: Stream,
    epoch: StoreEpoch,
    seq: Seq,
    fact: Extract<Fact, { kind: 'batch-received' }>,
  ): void {
    applyGaps(stream);
    const current = stream.epoch;
    if (current === null) return;
    let problem: string | null = null;
    if (epoch > current) {
      if (!stream.epochEnded)
        problem = `moving on from epoch ${current} (at seq ${stream.last}) with no gap notice for the rest of it`;
      enter(stream, epoch);
      applyGaps(stream);
      if (problem === null && seq !== stream.last + 1)
        problem = `starting the epoch after seq ${stream.last} with no gap notice for seqs ${stream.last + 1}..${seq - 1}`;
    } else if (epoch < current) problem = `after moving on to epoch ${current}`;
    else if (stream.epochEnded) problem = 'after a gap notice told away the rest of that epoch';
    else if (seq <= stream.last) problem = `after it had reached seq ${stream.last}: a repeat or a step back`;
    else if (seq > stream.last + 1)
      problem = `skipping seqs ${stream.last + 1}..${seq - 1} with no gap notice`;
    if (problem !== null) {
      const { event, node, t } = fact;
      const id = this.subscriptions.idOf(stream.c);
      this.orderError(
        t,
        `${id} (viewer ${stream.viewer}) received event ${event.id} of "${event.topic}" as seq ${seq} of ${stream.dc}'s epoch ${epoch}, ${problem}`,
        { e: event.id, connection: id, node },
      );
    }
    // Past a skip the stream goes on from the seq received, so one fault is reported once.
    if (epoch === stream.epoch && !stream.epochEnded && seq > stream.last) stream.last = seq;
  }

  private gapTold(c: number, fact: Extract<Fact, { kind: 'gap' }>): void {
    const viewer = this.viewerOf[c];
    if (viewer === undefined) return;
    const stream = this.streamOn(c, fact.topic) ?? this.fresh(viewer, fact.topic, c, 'catching-up');
    if (fact.why === 'unknown-cursor') this.judgeCursorGap(stream, c, fact);
    const told = tellGap(stream, { c, epoch: fact.epoch, from: fact.from, to: fact.to });
    if (told === 'forgot-oldest') this.gapsForgotten++;
  }

  /** A resume told its cursor is unknown: honest only if the cursor's epoch is not the store's live one. */
  private judgeCursorGap(stream: Stream, c: number, fact: Extract<Fact, { kind: 'gap' }>): void {
    const cursor = stream.resumedFrom;
    if (cursor === null) {
      this.unjudgedCursorGaps++;
      return;
    }
    const held = this.stores.held(stream.dc, fact.topic, fact.t);
    if (held === null || held.epoch !== cursor.epoch || cursor.seq > held.headSeq) return;
    this.dishonestCursorGaps++;
    const id = this.subscriptions.idOf(c);
    this.violations.report(
      'honest-gaps',
      fact.t,
      `${fact.node} told ${id} (viewer ${stream.viewer}) its cursor on "${fact.topic}" is unknown, but the cursor (seq ${cursor.seq} of epoch ${cursor.epoch}) is in ${stream.dc}'s store's live epoch, whose head is seq ${held.headSeq}`,
      { connection: id, node: fact.node },
    );
  }

  /** Every stream still joined has reached its store's head as it stood a catch-up time ago, by receipts and gaps. */
  private judgeEnd(t: Us): void {
    for (const byTopic of this.streams.values())
      for (const stream of byTopic.values()) {
        if (stream.state !== 'joined' || stream.epoch === null) continue;
        const held = this.stores.held(stream.dc, stream.topic, t);
        // The store's epoch is lost (or none is known): there is nothing it could still deliver.
        if (held === null) continue;
        // A stream ahead of the store's known epoch is in one with nothing appended yet.
        if (held.epoch < stream.epoch) continue;
        this.streamsJudged++;
        applyGaps(stream);
        const from = held.epoch > stream.epoch ? 1 : stream.epochEnded ? held.headSeq + 1 : stream.last + 1;
        const missing = uncovered(stream, held.epoch, from, held.owedSeq);
        if (missing.count === 0) continue;
        this.eventualErrors++;
        this.seqsMissing += missing.count;
        const id = this.subscriptions.idOf(stream.c);
        const inEpoch =
          held.epoch > stream.epoch ? `; it is still in epoch ${stream.epoch} (at seq ${stream.last})` : '';
        this.violations.report(
          'eventual-delivery',
          t,
          `${id} (viewer ${stream.viewer}) is still joined to "${stream.topic}" at the end but never got ${missing.count} seq(s) of ${stream.dc}'s epoch ${held.epoch} up to seq ${held.owedSeq}, its head a catch-up time before the end (first: ${missing.first}), by receipt or gap notice${inEpoch}`,
          { connection: id },
        );
      }
  }

  /** The usable stream of connection `c` on `topic`: its own, or the viewer's it resumes. */
  private streamOn(c: number, topic: Topic): Stream | null {
    const viewer = this.viewerOf[c];
    const stream = viewer === undefined ? undefined : this.streams.get(viewer)?.get(topic);
    if (stream === undefined) return null;
    if (stream.c === c && stream.state !== 'resumable' && stream.state !== 'over') return stream;
    if (!this.continues(stream, c, this.resumesBeforeJoin(c, topic))) return null;
    this.adopt(stream, c);
    return stream;
  }

  /**
   * Connection `c` resumes the viewer's stream from the viewer's cursor, what it received: what it
   * was told on the closed one no longer counts, as a gap notice told there just before the close
   * may never have reached it (the viewer's cursor moves by receipts alone).
   */
  private adopt(stream: Stream, c: number): void {
    stream.c = c;
    stream.state = 'catching-up';
    stream.resumedFrom = stream.cursor;
    if (stream.cursor !== null) {
      stream.epoch = stream.cursor.epoch;
      stream.last = stream.cursor.seq;
      stream.epochEnded = false;
    }
    stream.gaps = stream.gaps.filter((gap) => gap.c === c);
    this.resumes++;
  }

  private fresh(viewer: number, topic: Topic, c: number, state: StreamState): Stream {
    const stream = unanchoredStream(viewer, topic, c, this.dcOf[c] ?? '?', state);
    this.streamsOf(viewer).set(topic, stream);
    return stream;
  }

  private orderError(t: Us, message: string, where: { e: EventId; connection: string; node: string }): void {
    this.orderErrors++;
    this.violations.report('order', t, message, where);
  }

  private addOnTheLink(c: number, topic: Topic, n: 1 | -1): void {
    let byTopic = this.onTheLink.get(c);
    if (byTopic === undefined) this.onTheLink.set(c, (byTopic = new Map()));
    const batches = (byTopic.get(topic) ?? 0) + n;
    if (batches > 0) byTopic.set(topic, batches);
    else byTopic.delete(topic);
  }

  private streamsOf(viewer: number): Map<Topic, Stream> {
    let byTopic = this.streams.get(viewer);
    if (byTopic === undefined) this.streams.set(viewer, (byTopic = new Map()));
    return byTopic;
  }
}
