/**
 * A dispatcher's part in occupancy (viewer counts). The rules are in `core/dispatcher.ts`'s theory
 * of operation; in short:
 * - A lease write's answer carries the store's occupancy of its topics. The dispatcher passes it to
 *   the frontend as `Occupancy` (the whole count, per datacenter, and which peers are stale), and
 *   keeps its own datacenter's total of each topic to send on (`relay`, at most `occupancyTotalsMax`).
 * - Every `occupancyEveryMs` it sends one `occupancy` message to every dispatcher of every peer
 *   datacenter: the totals to one of them (rotating), an empty list to the rest. So every dispatcher
 *   hears from every peer datacenter each interval, and one that falls silent for `occupancyStaleMs`
 *   is stale: its share is still shown, flagged, not dropped. A total holds (`validMs`) for the
 *   longest lease seen, `occupancyStaleMs` and an interval: longer than a peer can go without a
 *   fresh total and then fall silent, so a share never expires before its datacenter is stale. The cost per interval is
 *   dispatchers x peer dispatchers messages, whatever the number of topics or viewers.
 * - A peer's totals are written to the store (`remote-totals`); whoever asks next gets them.
 * - The timer starts with the first input the dispatcher handles (a host gives it none before),
 *   and every peer counts as heard from at that moment.
 */
import { assert, increment } from './assert.ts';
import type { DispatcherState, StorePurpose } from './dispatcher-state.ts';
import { requestStore } from './dispatcher-store.ts';
import type {
  DcId,
  Effect,
  Message,
  Ms,
  NodeId,
  Occupancy,
  OccupancyTotal,
  PublishId,
  StoreEpoch,
  StoreOccupancy,
  StoreReply,
  Topic,
} from './types.ts';
import { topicError } from './validation.ts';

/** Totals per `occupancy` message: a relay past it goes in several. */
export const totalsPerMessageMax = 500;

export function occupancyOn(state: Readonly<DispatcherState>): boolean {
  return state.config.occupancyEveryMs > 0;
}

/** Start the interval timer at the first input. */
export function startOccupancy(state: DispatcherState, now: Ms): void {
  if (!occupancyOn(state) || state.occupancyAtMs !== null) return;
  state.occupancyAtMs = now + state.config.occupancyEveryMs;
  for (const dc of Object.keys(state.config.peers)) state.peerHeardAtMs.set(dc, now);
}

/**
 * The store answered a lease write with `occupancy`: keep this datacenter's totals to relay, and
 * say the whole picture to the frontend.
 */
export function occupancyOfWrite(
  state: DispatcherState,
  reply: Extract<StoreReply, { op: 'written' }>,
  leaseMs: Ms | null,
  now: Ms,
): Occupancy[] | undefined {
  if (!occupancyOn(state) || reply.occupancy === undefined) return undefined;
  if (leaseMs !== null) state.leaseMsSeen = Math.max(state.leaseMsSeen, leaseMs);
  // A peer drops an expired total only while this datacenter is not stale to it. Its next total may
  // come a lease later (a full renewal's) and the relay interval after; if this datacenter is cut
  // off meanwhile, the peer finds it stale `occupancyStaleMs` after it last heard from it. The total
  // must outlast both, or a cut-off datacenter's share vanishes before it is flagged stale.
  const validMs = state.leaseMsSeen + state.config.occupancyStaleMs + state.config.occupancyEveryMs;
  for (const occupancy of reply.occupancy)
    relayTotal(state, occupancy.topic, occupancy.local, reply.epoch, reply.epochAgeMs, validMs);
  return reply.occupancy.map((occupancy) => composeOccupancy(state, occupancy, now));
}

/**
 * What viewers are told: this datacenter's local count, each peer's latest total (an expired one
 * only while that peer is stale: it may be cut off with its viewers still there), and the stale peers.
 */
export function composeOccupancy(
  state: Readonly<DispatcherState>,
  store: StoreOccupancy,
  now: Ms,
): Occupancy {
  const counts = new Map<DcId, number>([[state.config.dc, store.local]]);
  const stale: DcId[] = [];
  for (const { dc, count, expired } of store.remote) {
    if (dc === state.config.dc || !(dc in state.config.peers)) continue;
    const isStale = peerStale(state, dc, now);
    if (expired && !isStale) continue;
    counts.set(dc, count);
    if (isStale) stale.push(dc);
  }
  const byDc: Record<DcId, number> = {};
  let count = 0;
  for (const dc of [...counts.keys()].sort()) {
    const share = counts.get(dc) ?? 0;
    byDc[dc] = share;
    count += share;
  }
  assert(Number.isSafeInteger(count) && count >= 0, `occupancy of ${store.topic} out of range`);
  return { topic: store.topic, count, byDc, stale: stale.sort() };
}

/** A peer datacenter nothing was heard from for `occupancyStaleMs`. */
export function peerStale(state: Readonly<DispatcherState>, dc: DcId, now: Ms): boolean {
  const heard = state.peerHeardAtMs.get(dc);
  return heard === undefined || now - heard > state.config.occupancyStaleMs;
}

/** A peer dispatcher's per-interval message: note its datacenter heard, and store its totals. */
export function onOccupancyMessage(
  state: DispatcherState,
  source: NodeId,
  message: Extract<Message, { type: 'occupancy' }>,
  now: Ms,
  effects: Effect[],
): void {
  const dc = peerDcOf(state, source);
  if (dc === null || !occupancyOn(state)) {
    increment(state.counters, dc === null ? 'occupancy-from-strangers' : 'occupancy-while-off');
    return;
  }
  if (!Array.isArray(message.totals) || message.totals.length > totalsPerMessageMax) {
    increment(state.counters, 'occupancy-messages-refused');
    return;
  }
  state.peerHeardAtMs.set(dc, now);
  increment(state.counters, 'occupancy-messages-received');
  if (message.totals.length === 0) return;
  requestStore(
    state,
    { op: 'remote-totals', dc, totals: message.totals },
    { kind: 'remote-totals' },
    now,
    effects,
  );
}

/** The store answered a `remote-totals` write: nothing waits on it but the counters. */
export function onRemoteTotalsWritten(state: DispatcherState, reply: StoreReply): void {
  increment(state.counters, reply.op === 'written' ? 'remote-totals-written' : 'remote-totals-refused');
}

/** A host asks for a topic's occupancy (`GET /v1/topics/T/occupancy`). */
export function onOccupancyQuery(
  state: DispatcherState,
  queryId: PublishId,
  topic: Topic,
  now: Ms,
  effects: Effect[],
): void {
  const answer = (result: Extract<Effect, { kind: 'occupancy-reply' }>['result']): void => {
    effects.push({ kind: 'occupancy-reply', queryId, result });
  };
  if (!occupancyOn(state))
    return answer({ ok: false, code: 'disabled', message: 'occupancy is off on this dispatcher' });
  const error = topicError(topic);
  if (error !== null) return answer({ ok: false, code: 'bad-topic', message: error });
  const purpose: StorePurpose = { kind: 'occupancy', queryId };
  if (!requestStore(state, { op: 'occupancy', topics: [topic] }, purpose, now, effects))
    answer({ ok: false, code: 'store-unavailable', message: 'dispatcher overloaded; retry later' });
}

export function onOccupancyRead(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'occupancy' }>,
  reply: StoreReply,
  now: Ms,
  effects: Effect[],
): void {
  const store = reply.op === 'occupancy' ? reply.occupancy[0] : undefined;
  effects.push({
    kind: 'occupancy-reply',
    queryId: purpose.queryId,
    result:
      store === undefined
        ? {
            ok: false,
            code: 'store-unavailable',
            message: `store refused: ${reply.op === 'rejected' ? reply.message : reply.op}`,
          }
        : { ok: true, occupancy: composeOccupancy(state, store, now) },
  });
}

export function onOccupancyReadTimedOut(
  purpose: Extract<StorePurpose, { kind: 'occupancy' }>,
  effects: Effect[],
): void {
  effects.push({
    kind: 'occupancy-reply',
    queryId: purpose.queryId,
    result: { ok: false, code: 'store-unavailable', message: 'store did not answer in time' },
  });
}

/** Every interval: the totals learnt to one dispatcher of each peer datacenter, a heartbeat to the rest. */
export function onOccupancyDeadline(state: DispatcherState, now: Ms, effects: Effect[]): void {
  if (state.occupancyAtMs === null || now < state.occupancyAtMs) return;
  const totals = [...state.relay.values()];
  state.relay.clear();
  for (const [dc, dispatchers] of Object.entries(state.config.peers)) {
    const turn = (state.occupancyCursor.get(dc) ?? 0) % dispatchers.length;
    state.occupancyCursor.set(dc, turn + 1);
    for (const [index, target] of dispatchers.entries()) {
      if (index !== turn || totals.length === 0) {
        effects.push({ kind: 'send', target, message: { type: 'occupancy', totals: [] } });
        continue;
      }
      for (let start = 0; start < totals.length; start += totalsPerMessageMax)
        effects.push({
          kind: 'send',
          target,
          message: { type: 'occupancy', totals: totals.slice(start, start + totalsPerMessageMax) },
        });
    }
  }
  increment(state.counters, 'occupancy-intervals');
  increment(state.counters, 'occupancy-totals-sent', totals.length);
  state.occupancyAtMs = now + state.config.occupancyEveryMs;
}

function relayTotal(
  state: DispatcherState,
  topic: Topic,
  count: number,
  epoch: StoreEpoch,
  ageMs: Ms,
  validMs: Ms,
): void {
  if (Object.keys(state.config.peers).length === 0) return;
  if (!state.relay.has(topic) && state.relay.size >= state.config.limits.occupancyTotalsMax) {
    // The total is not lost for good: the topic's next renewal brings it again.
    increment(state.counters, 'occupancy-totals-shed');
    return;
  }
  state.relay.set(topic, { topic, count, epoch, ageMs, validMs });
  assert(state.relay.size <= state.config.limits.occupancyTotalsMax, 'relay over its bound');
}

function peerDcOf(state: Readonly<DispatcherState>, source: NodeId): DcId | null {
  for (const [dc, dispatchers] of Object.entries(state.config.peers))
    if (dispatchers.includes(source)) return dc;
  return null;
}

export type { OccupancyTotal };
