/**
 * A frontend's streams (reliable mode): per topic, the datacenter's history delivered to the
 * topic's viewers in seq order, gaps filled from the store, and what cannot be filled said.
 *
 * Rules
 * - A stream starts when a lease reply names the topic's head under the store's epoch (no head
 *   named: 0), whether the lease was granted or refused for want of room: a frontend the store
 *   has no room for still serves its viewers, from the heads each renewal's refusal names. Until then its viewers wait, unjoined; once started, a viewer `joined`s at the
 *   stream's position and receives every later seq, in order.
 * - A delivery is acknowledged (`deliver-ack`) as soon as it arrives, whatever becomes of it. The
 *   next seq goes to the joined viewers at once; an older one is a duplicate; a later one waits in
 *   the reorder buffer (`reorderBufferMax`; past it, dropped: the read brings it again) and, if the
 *   gap is still open `gapWaitMs` later, the history is read after the stream's seq. A renewal's
 *   answer naming a head beyond the stream's seq (a lost tail) reads at once.
 * - A read's answer fills the stream in order. Where the history no longer holds the next seqs
 *   (its oldest held is beyond them), the viewers get a `gap` notice for exactly the seqs missing —
 *   those this frontend does not hold either (in its reorder buffer, or among its recent events for
 *   a viewer catching up) — and the stream goes on after them. A failed read is tried again
 *   `readTimeoutMs` later.
 * - A larger store epoch (from a lease reply, a `store-reset`, a delivery or a read) means the
 *   store lost its data: the viewers get a `gap` notice for the rest of the old epoch (`epoch`),
 *   and the stream reads the new epoch from its first seq, so what was published while this
 *   frontend was not registered again still reaches them.
 * - Resume: a viewer that brings a cursor of this datacenter `joined`s at its cursor and is caught
 *   up alone from there (from the stream's recent events, else from the history) before it
 *   receives the live stream; a cursor of an
 *   older epoch gets an `epoch` gap and catches up from the new epoch's start; a cursor of another
 *   datacenter is located by its last event id in this datacenter's history (not found: an
 *   `unknown-cursor` gap, and it joins at the stream's position).
 * - Bounds: `reorderBufferMax` per stream, `historyEventsPerTopicMax` recent events per stream,
 *   reads share `pendingRequestsMax` with lease requests and publishes (no room: retried later).
 */
import { assert, increment } from './assert.ts';
import { currentDispatcher, pendingRoom, type FrontendState } from './frontend-state.ts';
import { addPending, takeDue, takePending } from './pending.ts';
import type {
  ConnectionId,
  Effect,
  Event,
  Gap,
  HistoryAfter,
  Message,
  Ms,
  NodeId,
  Position,
  RequestId,
  Seq,
  SequencedEvent,
  StoreEpoch,
  Topic,
  TopicCursor,
} from './types.ts';
import { firstSight } from './frontend-history.ts';
import { eventIdError, topicError } from './validation.ts';

/** Where a waiting viewer's catch-up stands: the last seq it has been given, or a place to find. */
type CatchUp =
  { kind: 'fresh' } | { kind: 'after'; epoch: StoreEpoch; seq: Seq } | { kind: 'after-id'; eventId: EventId };

type EventId = string;

interface Waiting {
  catchUp: CatchUp;
  /** The read serving it, while one is in flight. */
  reading: RequestId | null;
  /** Its `joined` was said: from where it is caught up, before it receives the live stream. */
  announced: boolean;
}

export interface Stream {
  /** The store epoch its seqs count in; null until a lease reply named the head. */
  epoch: StoreEpoch | null;
  /** The last seq delivered to the joined viewers, in order. */
  seq: Seq;
  /** The largest head seq learnt (from deliveries, renewals, reads). */
  headSeq: Seq;
  /** Deliveries beyond a gap, waiting for it to be filled. */
  readonly buffer: Map<Seq, Event>;
  /** The epoch of the buffered deliveries (a stream not started buffers whatever comes). */
  bufferEpoch: StoreEpoch | null;
  /** Recent events in seq order, for catching up a resuming viewer without a read. */
  readonly recent: SequencedEvent[];
  /** Viewers receiving the live stream. */
  readonly joined: Set<ConnectionId>;
  /** Viewers waiting to join: the stream has not started, or they are catching up. */
  readonly waiting: Map<ConnectionId, Waiting>;
  /** The live read in flight, if any. */
  reading: RequestId | null;
  /** When to read (a gap's wait ended, a failed read's retry), or null. */
  readAtMs: Ms | null;
}

export interface PendingRead {
  topic: Topic;
  /** The live stream, or one waiting viewer's catch-up. */
  reader: { kind: 'stream' } | { kind: 'catch-up'; connection: ConnectionId };
}

export function createStream(): Stream {
  return {
    epoch: null,
    seq: 0,
    headSeq: 0,
    buffer: new Map(),
    bufferEpoch: null,
    recent: [],
    joined: new Set(),
    waiting: new Map(),
    reading: null,
    readAtMs: null,
  };
}

/** A viewer subscribed (or resumed, with `cursor`): it joins now, or waits to catch up. */
export function addViewer(
  state: FrontendState,
  topic: Topic,
  connection: ConnectionId,
  cursor: TopicCursor | undefined,
  now: Ms,
  effects: Effect[],
): void {
  const stream = streamOf(state, topic);
  let catchUp: CatchUp = { kind: 'fresh' };
  // A cursor at seq 0 is a place too: its viewer joined before the topic's first event, and is owed
  // everything appended since.
  if (cursor !== undefined) {
    if (cursor.dc === state.config.dc) catchUp = { kind: 'after', epoch: cursor.epoch, seq: cursor.seq };
    else if (cursor.lastEventId !== undefined && eventIdError(cursor.lastEventId) === null)
      catchUp = { kind: 'after-id', eventId: cursor.lastEventId };
    else catchUp = { kind: 'after-id', eventId: '' };
  }
  stream.waiting.set(connection, { catchUp, reading: null, announced: false });
  if (stream.epoch !== null) advanceWaiting(state, topic, stream, connection, now, effects);
}

/** A viewer left: it stops receiving; its pending catch-up, if any, is forgotten. */
export function removeViewer(
  state: FrontendState,
  topic: Topic,
  connection: ConnectionId,
  effects: Effect[],
): void {
  const stream = streamOf(state, topic);
  const announced = stream.waiting.get(connection)?.announced === true;
  stream.waiting.delete(connection);
  if (stream.joined.delete(connection) || announced) effects.push({ kind: 'left', connection, topic });
}

/** The topic has no viewers left: forget its stream (reads in flight are ignored when they answer). */
export function dropStream(state: FrontendState, topic: Topic): void {
  const stream = state.streams.get(topic);
  assert(
    stream !== undefined && stream.joined.size === 0 && stream.waiting.size === 0,
    `dropping ${topic} with viewers`,
  );
  state.streams.delete(topic);
  state.streamsDue.delete(topic);
}

/** A reliable delivery: acknowledge it, then deliver it in order or hold it. */
export function onSequencedDeliver(
  state: FrontendState,
  source: NodeId,
  message: Extract<Message, { type: 'deliver' }>,
  now: Ms,
  effects: Effect[],
): void {
  const { event, position, deliveryId } = message;
  if (deliveryId !== undefined)
    effects.push({ kind: 'send', target: source, message: { type: 'deliver-ack', deliveryId } });
  if (position === undefined || topicError(event.topic) !== null || eventIdError(event.id) !== null) {
    increment(state.counters, 'malformed-events');
    return;
  }
  const stream = state.streams.get(event.topic);
  if (stream === undefined) {
    increment(state.counters, 'events-without-viewers');
    return;
  }
  if (stream.epoch === null) {
    hold(state, stream, position, event);
    return;
  }
  if (position.epoch < stream.epoch) {
    increment(state.counters, 'events-of-an-old-epoch');
    return;
  }
  if (position.epoch > stream.epoch) epochChanged(state, event.topic, stream, position.epoch, now, effects);
  stream.headSeq = Math.max(stream.headSeq, position.seq);
  if (position.seq <= stream.seq || stream.buffer.has(position.seq)) {
    increment(state.counters, 'duplicate-events');
    return;
  }
  if (position.seq === stream.seq + 1) {
    deliverLive(state, event.topic, stream, position.seq, event, now, effects);
    drainBuffer(state, event.topic, stream, now, effects);
    return;
  }
  hold(state, stream, position, event);
  if (stream.readAtMs === null && stream.reading === null)
    schedule(state, event.topic, stream, now + state.config.gapWaitMs);
}

/** A lease reply told the store's epoch and the heads of its topics (0 for a topic with no history). */
export function onHeads(
  state: FrontendState,
  epoch: StoreEpoch,
  topics: readonly Topic[],
  heads: ReadonlyMap<Topic, Seq>,
  now: Ms,
  effects: Effect[],
): void {
  for (const topic of topics) {
    const stream = state.streams.get(topic);
    if (stream === undefined) continue;
    const headSeq = heads.get(topic) ?? 0;
    if (stream.epoch === null) {
      start(state, topic, stream, epoch, headSeq, now, effects);
      continue;
    }
    if (epoch < stream.epoch) continue;
    if (epoch > stream.epoch) epochChanged(state, topic, stream, epoch, now, effects);
    stream.headSeq = Math.max(stream.headSeq, headSeq);
    // A head beyond what arrived: the last deliveries were lost. Read now rather than wait.
    if (stream.headSeq > stream.seq && stream.reading === null) {
      increment(state.counters, 'tails-noticed');
      readLive(state, topic, stream, now, effects);
    }
  }
}

/** The store lost its data (a lease reply or `store-reset` named a larger epoch): every stream reads it anew. */
export function onStreamsEpoch(state: FrontendState, epoch: StoreEpoch, now: Ms, effects: Effect[]): void {
  for (const [topic, stream] of state.streams)
    if (stream.epoch !== null && epoch > stream.epoch)
      epochChanged(state, topic, stream, epoch, now, effects);
}

export function onHistoryReply(
  state: FrontendState,
  message: Extract<Message, { type: 'history-reply' }>,
  now: Ms,
  effects: Effect[],
): void {
  const pending = takePending(state.pendingReads, message.requestId);
  if (pending === undefined) return;
  readAnswered(state, message.requestId, pending, message.reply, now, effects);
}

/** Reads that got no answer in time count as failed; streams whose gap wait ended read. */
export function onStreamsDeadline(state: FrontendState, now: Ms, effects: Effect[]): void {
  for (const [requestId, pending] of takeDue(state.pendingReads, now))
    readAnswered(
      state,
      requestId,
      pending,
      { ok: false, message: 'no dispatcher answered in time' },
      now,
      effects,
    );
  for (const [topic, atMs] of [...state.streamsDue]) {
    if (atMs > now) continue;
    state.streamsDue.delete(topic);
    const stream = state.streams.get(topic);
    if (stream === undefined) continue;
    stream.readAtMs = null;
    if (stream.reading === null && (stream.buffer.size > 0 || stream.headSeq > stream.seq))
      readLive(state, topic, stream, now, effects);
    for (const [connection, waiting] of stream.waiting)
      if (waiting.reading === null && stream.epoch !== null)
        advanceWaiting(state, topic, stream, connection, now, effects);
  }
}

/** The earliest stream timer, or null. */
export function streamsDeadline(state: Readonly<FrontendState>): Ms | null {
  let earliest: Ms | null = null;
  for (const atMs of state.streamsDue.values()) if (earliest === null || atMs < earliest) earliest = atMs;
  return earliest;
}

function streamOf(state: FrontendState, topic: Topic): Stream {
  let stream = state.streams.get(topic);
  if (stream === undefined) {
    stream = createStream();
    state.streams.set(topic, stream);
  }
  return stream;
}

function start(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  epoch: StoreEpoch,
  headSeq: Seq,
  now: Ms,
  effects: Effect[],
): void {
  stream.epoch = epoch;
  stream.seq = headSeq;
  stream.headSeq = headSeq;
  increment(state.counters, 'streams-started');
  for (const connection of [...stream.waiting.keys()])
    advanceWaiting(state, topic, stream, connection, now, effects);
  if (stream.bufferEpoch !== epoch) stream.buffer.clear();
  drainBuffer(state, topic, stream, now, effects);
}

function hold(state: FrontendState, stream: Stream, position: Position, event: Event): void {
  if (stream.bufferEpoch !== position.epoch) {
    stream.buffer.clear();
    stream.bufferEpoch = position.epoch;
  }
  if (stream.buffer.size >= state.config.limits.reorderBufferMax) {
    increment(state.counters, 'reorder-buffer-full');
    return;
  }
  stream.buffer.set(position.seq, event);
  increment(state.counters, 'events-held');
}

function deliverLive(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  seq: Seq,
  event: Event,
  now: Ms,
  effects: Effect[],
): void {
  assert(stream.epoch !== null && seq === stream.seq + 1, 'the live stream delivers the next seq only');
  stream.seq = seq;
  stream.headSeq = Math.max(stream.headSeq, seq);
  stream.recent.push({ seq, event });
  if (stream.recent.length > state.config.limits.historyEventsPerTopicMax) stream.recent.shift();
  const position = { epoch: stream.epoch, seq };
  if (!firstSight(state, event.id, now)) {
    // Appended again after the store lost the epoch it was first appended in: delivered already.
    increment(state.counters, 'duplicate-events');
    const gap: Gap = {
      topic,
      epoch: stream.epoch,
      fromSeq: seq,
      toSeq: seq,
      why: 'duplicate',
      eventId: event.id,
    };
    notifyGap(state, [...stream.joined], gap, effects);
  } else if (stream.joined.size > 0) {
    increment(state.counters, 'events-delivered');
    increment(state.counters, 'deliveries', stream.joined.size);
    effects.push({ kind: 'deliver', connections: [...stream.joined], event, wholeTopic: true, position });
  } else increment(state.counters, 'events-without-viewers');
  // Viewers catching up that have reached the stream's old position may join now.
  for (const [connection, waiting] of stream.waiting)
    if (waiting.reading === null && waiting.catchUp.kind === 'after' && waiting.catchUp.seq <= seq)
      advanceWaiting(state, topic, stream, connection, now, effects);
}

function drainBuffer(state: FrontendState, topic: Topic, stream: Stream, now: Ms, effects: Effect[]): void {
  if (stream.bufferEpoch !== stream.epoch) stream.buffer.clear();
  for (const seq of [...stream.buffer.keys()]) if (seq <= stream.seq) stream.buffer.delete(seq);
  for (;;) {
    const next = stream.buffer.get(stream.seq + 1);
    if (next === undefined) break;
    stream.buffer.delete(stream.seq + 1);
    deliverLive(state, topic, stream, stream.seq + 1, next, now, effects);
  }
  if (stream.buffer.size === 0 && stream.headSeq <= stream.seq) unschedule(state, topic, stream);
  // A gap is left (held events beyond it, or a head not reached): give it `gapWaitMs`, then read.
  else if (stream.readAtMs === null && stream.reading === null)
    schedule(state, topic, stream, now + state.config.gapWaitMs);
}

/**
 * The store lost its data. Tell the joined viewers the rest of the old epoch is gone, then start
 * the stream over in the new epoch from its first seq: all of it is read and delivered.
 */
function epochChanged(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  epoch: StoreEpoch,
  now: Ms,
  effects: Effect[],
): void {
  assert(stream.epoch !== null && epoch > stream.epoch, 'an epoch change moves forward');
  increment(state.counters, 'stream-epoch-changes');
  const gap: Gap = { topic, epoch: stream.epoch, fromSeq: stream.seq + 1, toSeq: null, why: 'epoch' };
  notifyGap(state, [...stream.joined], gap, effects);
  // A waiting viewer's place in the old epoch is lost too: it catches up from the new epoch's start.
  for (const [connection, waiting] of stream.waiting) {
    if (waiting.catchUp.kind === 'after' && waiting.catchUp.epoch < epoch) {
      const old = waiting.catchUp;
      notifyGap(
        state,
        [connection],
        { topic, epoch: old.epoch, fromSeq: old.seq + 1, toSeq: null, why: 'epoch' },
        effects,
      );
      waiting.catchUp = { kind: 'after', epoch, seq: 0 };
    }
    waiting.reading = null;
  }
  stream.epoch = epoch;
  stream.seq = 0;
  stream.headSeq = 0;
  stream.recent.length = 0;
  if (stream.bufferEpoch !== epoch) stream.buffer.clear();
  stream.reading = null;
  readLive(state, topic, stream, now, effects);
  for (const connection of [...stream.waiting.keys()])
    advanceWaiting(state, topic, stream, connection, now, effects);
}

function readLive(state: FrontendState, topic: Topic, stream: Stream, now: Ms, effects: Effect[]): void {
  const requestId = read(state, topic, { seq: stream.seq }, { kind: 'stream' }, now, effects);
  if (requestId === null) {
    schedule(state, topic, stream, now + state.config.readTimeoutMs);
    return;
  }
  stream.reading = requestId;
  unschedule(state, topic, stream);
}

function read(
  state: FrontendState,
  topic: Topic,
  after: HistoryAfter,
  reader: PendingRead['reader'],
  now: Ms,
  effects: Effect[],
): RequestId | null {
  if (!pendingRoom(state)) {
    increment(state.counters, 'reads-shed');
    return null;
  }
  const requestId = state.nextRequestId++;
  addPending(state.pendingReads, requestId, { topic, reader }, now);
  increment(state.counters, 'history-reads');
  effects.push({
    kind: 'send',
    target: currentDispatcher(state),
    message: { type: 'history-read', requestId, topic, after, limit: state.config.readEventsMax },
  });
  return requestId;
}

function readAnswered(
  state: FrontendState,
  requestId: RequestId,
  pending: PendingRead,
  reply: Extract<Message, { type: 'history-reply' }>['reply'],
  now: Ms,
  effects: Effect[],
): void {
  const stream = state.streams.get(pending.topic);
  if (stream === undefined) return;
  const { reader } = pending;
  if (reader.kind === 'stream') {
    if (stream.reading !== requestId) return;
    stream.reading = null;
  } else {
    const waiting = stream.waiting.get(reader.connection);
    if (waiting === undefined || waiting.reading !== requestId) return;
    waiting.reading = null;
  }
  if (!reply.ok) {
    increment(state.counters, 'history-reads-failed');
    effects.push({ kind: 'drop', reason: 'read-failed', topic: pending.topic });
    state.dispatcherIndex = (state.dispatcherIndex + 1) % state.config.dispatchers.length;
    schedule(state, pending.topic, stream, now + state.config.readTimeoutMs);
    return;
  }
  if (stream.epoch === null || reply.epoch < stream.epoch) return;
  if (reply.epoch > stream.epoch) {
    // The store lost its data since the read was asked: what it answered counts in another epoch.
    epochChanged(state, pending.topic, stream, reply.epoch, now, effects);
    return;
  }
  stream.headSeq = Math.max(stream.headSeq, reply.headSeq);
  if (reader.kind === 'stream') fillStream(state, pending.topic, stream, reply, now, effects);
  else catchUpFrom(state, pending.topic, stream, reader.connection, reply, now, effects);
}

/** A live read answered: deliver what it holds in order, and say what it no longer holds. */
function fillStream(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  reply: Extract<Extract<Message, { type: 'history-reply' }>['reply'], { ok: true }>,
  now: Ms,
  effects: Effect[],
): void {
  assert(stream.epoch !== null, 'only a started stream reads');
  const trimmedThrough = Math.min(reply.firstSeq - 1, reply.headSeq);
  if (trimmedThrough > stream.seq) skipTrimmed(state, topic, stream, trimmedThrough, now, effects);
  for (const { seq, event } of reply.events) {
    if (seq <= stream.seq) continue;
    assert(seq === stream.seq + 1, 'a history read answers contiguous seqs');
    deliverLive(state, topic, stream, seq, event, now, effects);
  }
  drainBuffer(state, topic, stream, now, effects);
  if (stream.headSeq > stream.seq && reply.events.length > 0) readLive(state, topic, stream, now, effects);
  else if (stream.buffer.size > 0 || stream.headSeq > stream.seq)
    schedule(state, topic, stream, now + state.config.gapWaitMs);
}

/**
 * The history no longer holds the seqs through `trimmedThrough`: deliver those the reorder buffer
 * holds, and tell the joined viewers of each run of the others as a gap.
 */
function skipTrimmed(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  trimmedThrough: Seq,
  now: Ms,
  effects: Effect[],
): void {
  assert(stream.epoch !== null && trimmedThrough > stream.seq, 'a trimmed range lies ahead of the stream');
  const held = (seq: Seq): Event | undefined =>
    stream.bufferEpoch === stream.epoch ? stream.buffer.get(seq) : undefined;
  while (stream.seq < trimmedThrough) {
    const next = held(stream.seq + 1);
    if (next !== undefined) {
      stream.buffer.delete(stream.seq + 1);
      deliverLive(state, topic, stream, stream.seq + 1, next, now, effects);
      continue;
    }
    let toSeq = stream.seq + 1;
    while (toSeq < trimmedThrough && held(toSeq + 1) === undefined) toSeq++;
    increment(state.counters, 'gaps-trimmed');
    const gap: Gap = { topic, epoch: stream.epoch, fromSeq: stream.seq + 1, toSeq, why: 'trimmed' };
    notifyGap(state, [...stream.joined], gap, effects);
    stream.seq = toSeq;
    // Recent events stand for a contiguous run up to the stream's seq: the gap breaks it.
    stream.recent.length = 0;
  }
}

/**
 * Move a waiting viewer towards joining: start the stream's viewers when it starts, catch a
 * resuming one up from the stream's recent events or the history, and join it once it stands
 * exactly at the stream's position.
 */
function advanceWaiting(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  connection: ConnectionId,
  now: Ms,
  effects: Effect[],
): void {
  const waiting = stream.waiting.get(connection);
  assert(waiting !== undefined && stream.epoch !== null, 'advancing a viewer that is not waiting');
  const { catchUp } = waiting;
  if (catchUp.kind === 'fresh') return join(state, topic, stream, connection, effects);
  if (catchUp.kind === 'after-id') {
    if (catchUp.eventId === '') return unknownCursor(state, topic, stream, connection, effects);
    waiting.reading = read(
      state,
      topic,
      { eventId: catchUp.eventId },
      { kind: 'catch-up', connection },
      now,
      effects,
    );
    if (waiting.reading === null) schedule(state, topic, stream, now + state.config.readTimeoutMs);
    return;
  }
  if (catchUp.epoch > stream.epoch) return unknownCursor(state, topic, stream, connection, effects);
  if (catchUp.epoch < stream.epoch) {
    const gap: Gap = { topic, epoch: catchUp.epoch, fromSeq: catchUp.seq + 1, toSeq: null, why: 'epoch' };
    notifyGap(state, [connection], gap, effects);
    waiting.catchUp = { kind: 'after', epoch: stream.epoch, seq: 0 };
    return advanceWaiting(state, topic, stream, connection, now, effects);
  }
  announce(stream, topic, connection, { epoch: stream.epoch, seq: catchUp.seq }, effects);
  // Ahead of this frontend's stream: it waits for the stream to reach it (deliverLive calls back).
  if (catchUp.seq > stream.seq) return;
  const firstRecent = stream.recent[0]?.seq ?? stream.seq + 1;
  if (catchUp.seq + 1 >= firstRecent) {
    const missed = stream.recent.filter(({ seq }) => seq > catchUp.seq);
    sendCatchUp(state, stream, connection, missed, effects);
    return join(state, topic, stream, connection, effects);
  }
  waiting.reading = read(state, topic, { seq: catchUp.seq }, { kind: 'catch-up', connection }, now, effects);
  if (waiting.reading === null) schedule(state, topic, stream, now + state.config.readTimeoutMs);
}

/** A catch-up read answered: give the viewer what it missed up to the stream's position, then go on. */
function catchUpFrom(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  connection: ConnectionId,
  reply: Extract<Extract<Message, { type: 'history-reply' }>['reply'], { ok: true }>,
  now: Ms,
  effects: Effect[],
): void {
  const waiting = stream.waiting.get(connection);
  assert(waiting !== undefined && stream.epoch !== null, 'a catch-up answered for a viewer not waiting');
  let afterSeq: Seq;
  if (waiting.catchUp.kind === 'after-id') {
    if (reply.afterSeq === null) return unknownCursor(state, topic, stream, connection, effects);
    afterSeq = reply.afterSeq;
    announce(stream, topic, connection, { epoch: stream.epoch, seq: afterSeq }, effects);
  } else if (waiting.catchUp.kind === 'after') afterSeq = waiting.catchUp.seq;
  else return join(state, topic, stream, connection, effects);
  // What this frontend still holds among its recent events is no gap, whatever the history trimmed.
  const firstRecent = stream.recent[0]?.seq ?? stream.seq + 1;
  const trimmedThrough = Math.min(reply.firstSeq - 1, stream.seq, firstRecent - 1);
  if (trimmedThrough > afterSeq) {
    increment(state.counters, 'gaps-trimmed');
    const gap: Gap = {
      topic,
      epoch: stream.epoch,
      fromSeq: afterSeq + 1,
      toSeq: trimmedThrough,
      why: 'trimmed',
    };
    notifyGap(state, [connection], gap, effects);
    afterSeq = trimmedThrough;
  }
  const fromRecent = afterSeq + 1 >= firstRecent;
  const missed = (fromRecent ? stream.recent : reply.events).filter(
    ({ seq }) => seq > afterSeq && seq <= stream.seq,
  );
  if (missed.length === 0 && afterSeq < stream.seq) {
    // The store answered nothing it should hold: do not ask again forever; say so and join.
    increment(state.counters, 'catch-ups-unanswered');
    return unknownCursor(state, topic, stream, connection, effects);
  }
  sendCatchUp(state, stream, connection, missed, effects);
  waiting.catchUp = { kind: 'after', epoch: stream.epoch, seq: missed.at(-1)?.seq ?? afterSeq };
  advanceWaiting(state, topic, stream, connection, now, effects);
}

function sendCatchUp(
  state: FrontendState,
  stream: Stream,
  connection: ConnectionId,
  events: readonly SequencedEvent[],
  effects: Effect[],
): void {
  assert(stream.epoch !== null, 'only a started stream catches viewers up');
  const waiting = stream.waiting.get(connection);
  for (const { seq, event } of events) {
    assert(
      waiting?.catchUp.kind !== 'after' || seq > waiting.catchUp.seq,
      'a catch-up never hands back what the viewer has',
    );
    effects.push({
      kind: 'deliver',
      connections: [connection],
      event,
      wholeTopic: false,
      position: { epoch: stream.epoch, seq },
    });
    increment(state.counters, 'events-replayed');
  }
}

function unknownCursor(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  connection: ConnectionId,
  effects: Effect[],
): void {
  assert(stream.epoch !== null, 'only a started stream locates cursors');
  // Nothing appended in this epoch yet: the viewer misses nothing here, and joins at its start.
  if (stream.seq > 0) {
    increment(state.counters, 'resumes-without-history');
    const gap: Gap = { topic, epoch: stream.epoch, fromSeq: 1, toSeq: stream.seq, why: 'unknown-cursor' };
    notifyGap(state, [connection], gap, effects);
  }
  join(state, topic, stream, connection, effects);
}

function join(
  state: FrontendState,
  topic: Topic,
  stream: Stream,
  connection: ConnectionId,
  effects: Effect[],
): void {
  assert(stream.epoch !== null, 'a viewer joins a started stream only');
  announce(stream, topic, connection, { epoch: stream.epoch, seq: stream.seq }, effects);
  stream.waiting.delete(connection);
  stream.joined.add(connection);
  increment(state.counters, 'stream-joins');
}

/**
 * Say `joined` once, as soon as it is known after which position the viewer gets every seq in
 * order: its cursor when it catches up, the stream's position when it starts fresh.
 */
function announce(
  stream: Stream,
  topic: Topic,
  connection: ConnectionId,
  position: Position,
  effects: Effect[],
): void {
  const waiting = stream.waiting.get(connection);
  if (waiting === undefined || waiting.announced) return;
  waiting.announced = true;
  effects.push({ kind: 'joined', connection, topic, position });
}

function notifyGap(state: FrontendState, connections: ConnectionId[], gap: Gap, effects: Effect[]): void {
  assert(gap.toSeq === null || gap.toSeq >= gap.fromSeq, 'a gap covers at least one seq');
  const range = gap.toSeq === null ? `${gap.fromSeq} on` : `${gap.fromSeq}-${gap.toSeq}`;
  const because =
    gap.why === 'trimmed'
      ? 'the history no longer holds them'
      : gap.why === 'epoch'
        ? 'the store lost its data'
        : gap.why === 'duplicate'
          ? `it is event ${gap.eventId ?? '?'} again, which you were given under an earlier epoch`
          : 'this datacenter does not hold the place you resumed from';
  const message = `events ${range} of epoch ${gap.epoch} of "${gap.topic}" will not reach you: ${because}`;
  increment(state.counters, 'gap-notices', connections.length);
  increment(state.counters, `gap-notices-${gap.why}`);
  for (const connection of connections)
    effects.push({ kind: 'notice', connection, notice: { code: 'gap', message, topic: gap.topic, gap } });
}

function schedule(state: FrontendState, topic: Topic, stream: Stream, atMs: Ms): void {
  if (stream.readAtMs !== null && stream.readAtMs <= atMs) return;
  stream.readAtMs = atMs;
  state.streamsDue.set(topic, atMs);
}

function unschedule(state: FrontendState, topic: Topic, stream: Stream): void {
  stream.readAtMs = null;
  state.streamsDue.delete(topic);
}
