/**
 * Known bugs, planted in copies of the core's roles, that the checker and the property tests must
 * catch. Each is a small wrapper around the correct role, so the bug is exactly what its name says.
 */
import {
  eventOfStoreRequest,
  liveFrontends,
  unreachable,
  type Effect,
  type JsonValue,
  type Message,
  type NodeId,
  type StoreState,
  type Topic,
} from '../core/index.ts';
import { coreRoles, type Roles } from './world/index.ts';

export type PlantedBug =
  | 'no-dedupe'
  | 'leases-ignored'
  | 'wrong-topic'
  | 'corrupt-payload'
  | 'forward-twice'
  | 'unsubscribe-lost'
  | 'skip-frontend'
  | 'relay-forever'
  | 'renews-without-viewers'
  | 'unsubscribe-on-first-leave'
  | 'prefix-lookup'
  | 'tombstone-forgotten'
  | 'reuse-event-ids'
  | 'lease-shorter-than-renewal'
  | 'expiry-ignored'
  | 'renewals-stop-after-failure'
  | 'late-retries'
  | 'seq-reuse-on-retry'
  | 'history-read-off-by-one'
  | 'gap-notice-instead-of-fetch'
  | 'order-broken-on-retry'
  | 'first-count-renewed'
  | 'expired-leases-counted'
  | 'stale-dc-dropped'
  | 'totals-expire-before-stale';

export const plantedBugs: readonly PlantedBug[] = [
  'no-dedupe',
  'leases-ignored',
  'wrong-topic',
  'corrupt-payload',
  'forward-twice',
  'unsubscribe-lost',
  'skip-frontend',
  'relay-forever',
  'renews-without-viewers',
  'unsubscribe-on-first-leave',
  'prefix-lookup',
  'tombstone-forgotten',
  'reuse-event-ids',
  'lease-shorter-than-renewal',
  'expiry-ignored',
  'renewals-stop-after-failure',
  'late-retries',
  'seq-reuse-on-retry',
  'history-read-off-by-one',
  'gap-notice-instead-of-fetch',
  'order-broken-on-retry',
  'first-count-renewed',
  'expired-leases-counted',
  'stale-dc-dropped',
  'totals-expire-before-stale',
];

/** The planted bugs that live in reliable mode's machinery: they show only in reliable runs. */
export const reliablePlantedBugs: readonly PlantedBug[] = [
  'seq-reuse-on-retry',
  'history-read-off-by-one',
  'gap-notice-instead-of-fetch',
  'order-broken-on-retry',
];

/** Fresh role implementations carrying `bug` (each call has its own hidden state). */
export function rolesWithBug(bug: PlantedBug): Roles {
  switch (bug) {
    case 'no-dedupe':
      // The frontend forgets every event id before each input.
      return withFrontend((state, input, now) => {
        state.history.clear();
        state.seen.clear();
        return coreRoles.frontend.handle(state, input, now);
      });
    case 'leases-ignored': {
      // The dispatcher remembers every frontend a lookup ever returned and keeps sending to it.
      const seen = new Map<string, Set<string>>();
      return withDispatcher((state, input, now) => {
        if (input.kind === 'store-reply' && input.reply.op === 'frontends') {
          const event = eventOfStoreRequest(state, input.requestId);
          if (event !== null) {
            const key = `${state.config.dc}/${event.topic}`;
            const cache = seen.get(key) ?? new Set<string>();
            seen.set(key, cache);
            for (const frontend of input.reply.frontends) cache.add(frontend);
            input = { ...input, reply: { ...input.reply, frontends: [...cache] } };
          }
        }
        return coreRoles.dispatcher.handle(state, input, now);
      });
    }
    case 'wrong-topic':
      // The frontend hands each event to the viewers of another topic.
      return withFrontend((state, input, now) =>
        mapDeliver(coreRoles.frontend.handle(state, input, now), (effect) => {
          const other = [...state.topics.entries()].find(([topic]) => topic !== effect.event.topic);
          return other === undefined ? effect : { ...effect, connections: [...other[1]] };
        }),
      );
    case 'corrupt-payload':
      return withFrontend((state, input, now) =>
        mapDeliver(coreRoles.frontend.handle(state, input, now), (effect) => ({
          ...effect,
          event: { ...effect.event, payload: corrupted(effect.event.payload) },
        })),
      );
    case 'forward-twice':
      // The dispatcher sends every cross-datacenter forward twice.
      return withDispatcher((state, input, now) =>
        coreRoles.dispatcher
          .handle(state, input, now)
          .flatMap((effect) =>
            effect.kind === 'send' && effect.message.type === 'forward' ? [effect, effect] : [effect],
          ),
      );
    case 'unsubscribe-lost':
      // The frontend never sends its unsubscribe when a topic's last viewer leaves.
      return withFrontend((state, input, now) =>
        coreRoles.frontend
          .handle(state, input, now)
          .filter((effect) => !(effect.kind === 'send' && effect.message.type === 'unsubscribe')),
      );
    case 'skip-frontend': {
      // The dispatcher silently skips every seventh delivery to one frontend.
      let count = 0;
      return withDispatcher((state, input, now) =>
        coreRoles.dispatcher
          .handle(state, input, now)
          .filter(
            (effect) =>
              !(
                effect.kind === 'send' &&
                effect.message.type === 'deliver' &&
                effect.target.endsWith('/frontend-1') &&
                count++ % 7 === 0
              ),
          ),
      );
    }
    case 'relay-forever':
      // A dispatcher passes on every forward it receives to its other peers, as gossip would: with
      // three datacenters or more, two of them relay each event back and forth without end.
      return withDispatcher((state, input, now) => {
        const effects = coreRoles.dispatcher.handle(state, input, now);
        if (input.kind !== 'message' || input.message.type !== 'forward') return effects;
        const { event } = input.message;
        for (const [dc, peers] of Object.entries(state.config.peers))
          if (dc !== event.origin && peers[0] !== undefined)
            effects.push({
              kind: 'send',
              target: peers[0],
              message: { type: 'forward', forwardId: state.nextRequestId++, event },
            });
        return effects;
      });
    case 'renews-without-viewers':
      // The frontend builds its renewals from the topics it has history of, not the ones it has
      // viewers of: a topic whose viewers all left is renewed for as long as its history lasts
      // (with a viewer count of 0, so the store takes the renewal as a whole).
      return withFrontend((state, input, now) =>
        coreRoles.frontend.handle(state, input, now).map((effect) => {
          if (effect.kind !== 'send' || effect.message.type !== 'renew') return effect;
          const { topics, counts } = effect.message;
          const renewed = [...new Set([...topics, ...state.history.keys()])];
          const count = (topic: Topic): number => counts?.[topics.indexOf(topic)] ?? 0;
          return {
            ...effect,
            message: {
              ...effect.message,
              topics: renewed,
              ...(counts === undefined ? {} : { counts: renewed.map(count) }),
            },
          };
        }),
      );
    case 'unsubscribe-on-first-leave':
      // The frontend unsubscribes a topic when any viewer leaves it, not only its last one.
      return withFrontend((state, input, now) => {
        const before = input.kind === 'client' ? new Set(state.connections.get(input.connection)) : null;
        const effects = coreRoles.frontend.handle(state, input, now);
        if (before === null || input.kind !== 'client') return effects;
        const after = state.connections.get(input.connection);
        for (const topic of before) {
          if (after?.has(topic) === true || !state.topics.has(topic)) continue;
          effects.push({
            kind: 'send',
            target: state.config.dispatchers[state.dispatcherIndex] as string,
            message: {
              type: 'unsubscribe',
              requestId: state.nextRequestId++,
              frontend: state.config.nodeId,
              topic,
              generation: state.nextGeneration++,
            },
          });
        }
        return effects;
      });
    case 'prefix-lookup':
      // The store's lookup scans topic names by prefix (as `KEYS topic:T*` would), so "live" also
      // finds the frontends of "live:1".
      return withLookupAnswer((state, topic, frontends, now) => {
        const found = new Set(frontends);
        for (const other of state.topics.keys())
          if (other.startsWith(topic))
            for (const frontend of liveFrontends(state, other, now)) found.add(frontend);
        return [...found];
      });
    case 'tombstone-forgotten':
      // The store deletes a lease on unsubscribe instead of keeping a tombstone, so a renewal
      // reordered behind the unsubscribe brings the lease back to life.
      return withStore((state, input, now) => {
        const effects = coreRoles.store.handle(state, input, now);
        if (input.kind !== 'message' || input.message.type !== 'store-request') return effects;
        const { request } = input.message;
        if (request.op !== 'remove') return effects;
        const leases = state.topics.get(request.topic);
        const lease = leases?.get(request.frontend);
        if (leases !== undefined && lease !== undefined && lease.removedAtMs !== null) {
          leases.delete(request.frontend);
          state.leaseCount--;
          if (leases.size === 0) state.topics.delete(request.topic);
        }
        return effects;
      });
    case 'reuse-event-ids':
      // A dispatcher numbers its events from its node id alone, forgetting its incarnation: after a
      // restart its new events reuse the ids of the ones it published before.
      return {
        ...coreRoles,
        dispatcher: {
          ...coreRoles.dispatcher,
          create: (options) =>
            coreRoles.dispatcher.create({ ...options, idPrefix: options.idPrefix.replace(/\.\d+:$/, '.0:') }),
        },
      };
    case 'lease-shorter-than-renewal':
      // The frontend asks for leases half as long as its renewal period, so each lapses before it is renewed.
      return withFrontend((state, input, now) =>
        coreRoles.frontend.handle(state, input, now).map((effect) =>
          effect.kind === 'send' && (effect.message.type === 'subscribe' || effect.message.type === 'renew')
            ? {
                ...effect,
                message: {
                  ...effect.message,
                  leaseMs: Math.max(1, Math.floor(state.config.renewEveryMs / 2)),
                },
              }
            : effect,
        ),
      );
    case 'expiry-ignored':
      // The store's lookup forgets to compare a lease's expiry with the time: a lapsed lease is live
      // until the sweep reports it.
      return withLookupAnswer((state, topic) =>
        [...(state.topics.get(topic) ?? [])]
          .filter(([, lease]) => lease.removedAtMs === null && !lease.lapseReported)
          .map(([frontend]) => frontend),
      );
    case 'renewals-stop-after-failure': {
      // Once a lease request is given up, the frontend never renews again: the renewal timer is not
      // re-armed on that path.
      const stopped = new WeakSet<object>();
      return withFrontend((state, input, now) => {
        const effects = coreRoles.frontend.handle(state, input, now);
        if (effects.some((e) => e.kind === 'drop' && e.reason === 'lease-request-exhausted'))
          stopped.add(state);
        return stopped.has(state)
          ? effects.filter((e) => !(e.kind === 'send' && e.message.type === 'renew'))
          : effects;
      });
    }
    case 'late-retries':
      // The dispatcher arms its timer half a forward timeout after the deadline it computed, so
      // forward retries (and store timeouts) are handled late.
      return {
        ...coreRoles,
        dispatcher: {
          ...coreRoles.dispatcher,
          deadline: (state) => {
            const due = coreRoles.dispatcher.deadline(state);
            return due === null ? null : due + Math.floor(state.config.forwardTimeoutMs / 2);
          },
        },
      };
    case 'seq-reuse-on-retry':
      // The store forgets which ids it sequenced: a retried publish or forward gets a second seq.
      return withStore((state, input, now) => {
        for (const history of state.histories.values()) history.ids.clear();
        return coreRoles.store.handle(state, input, now);
      });
    case 'history-read-off-by-one':
      // A resuming viewer's catch-up starts one seq past its cursor: it never gets the first it missed.
      return withFrontend((state, input, now) => {
        if (input.kind === 'client' && input.action.type === 'resume' && input.action.cursors !== undefined) {
          const cursors = input.action.cursors.map((cursor) => ({ ...cursor, seq: cursor.seq + 1 }));
          input = { ...input, action: { ...input.action, cursors } };
        }
        return coreRoles.frontend.handle(state, input, now);
      });
    case 'gap-notice-instead-of-fetch':
      // The frontend answers its own history reads with "nothing held": every gap becomes a notice.
      return withFrontend((state, input, now) => {
        const effects = coreRoles.frontend.handle(state, input, now);
        const shortcuts = effects.flatMap((effect) =>
          effect.kind === 'send' && effect.message.type === 'history-read' ? [effect.message] : [],
        );
        const kept = effects.filter(
          (effect) => !(effect.kind === 'send' && effect.message.type === 'history-read'),
        );
        for (const read of shortcuts) {
          const stream = state.streams.get(read.topic);
          if (stream?.epoch === null || stream === undefined) continue;
          const headSeq = stream.headSeq;
          const message: Message = {
            type: 'history-reply',
            requestId: read.requestId,
            reply: {
              ok: true,
              epoch: stream.epoch,
              afterSeq: null,
              firstSeq: headSeq + 1,
              headSeq,
              events: [],
            },
          };
          kept.push(
            ...coreRoles.frontend.handle(
              state,
              { kind: 'message', source: state.config.nodeId, message },
              now,
            ),
          );
        }
        return kept;
      });
    case 'order-broken-on-retry':
      // The frontend delivers whatever seq arrives next, as if it were the next one: a retried
      // delivery that arrives after later ones is out of order (and, seen as old, is then dropped).
      return withFrontend((state, input, now) => {
        if (
          input.kind === 'message' &&
          input.message.type === 'deliver' &&
          input.message.position !== undefined
        ) {
          const stream = state.streams.get(input.message.event.topic);
          const { epoch, seq } = input.message.position;
          if (stream !== undefined && stream.epoch === epoch && seq > stream.seq + 1) stream.seq = seq - 1;
        }
        return coreRoles.frontend.handle(state, input, now);
      });
    case 'first-count-renewed': {
      // The frontend's renewals repeat the count its subscribe reported for each topic, not the
      // count it has now: the store never learns of viewers who came or went later.
      const firstCounts = new WeakMap<object, Map<Topic, number>>();
      return withFrontend((state, input, now) => {
        const effects = coreRoles.frontend.handle(state, input, now);
        let first = firstCounts.get(state);
        if (first === undefined) firstCounts.set(state, (first = new Map()));
        const counts = first;
        return effects.map((effect) => {
          if (effect.kind !== 'send') return effect;
          const message = effect.message;
          if (message.type === 'subscribe' && message.count !== undefined && !counts.has(message.topic))
            counts.set(message.topic, message.count);
          if (message.type === 'unsubscribe') counts.delete(message.topic);
          if (message.type !== 'renew' || message.counts === undefined) return effect;
          const reported = message.counts;
          const stuck = message.topics.map((topic, i) => counts.get(topic) ?? (reported[i] as number));
          return { ...effect, message: { ...message, counts: stuck } };
        });
      });
    }
    case 'expired-leases-counted':
      // The store sums the counts of every lease not removed, lapsed ones too: a dead frontend's
      // viewers stay in the count until the sweep forgets its lease.
      return withStore((state, input, now) =>
        coreRoles.store.handle(state, input, now).map((effect) => {
          if (effect.kind !== 'send' || effect.message.type !== 'store-reply') return effect;
          const { reply } = effect.message;
          if ((reply.op !== 'written' && reply.op !== 'occupancy') || reply.occupancy === undefined)
            return effect;
          const occupancy = reply.occupancy.map((topic) => {
            let local = 0;
            for (const lease of state.topics.get(topic.topic)?.values() ?? [])
              if (lease.removedAtMs === null) local += lease.count;
            return { ...topic, local };
          });
          return { ...effect, message: { ...effect.message, reply: { ...reply, occupancy } } };
        }),
      );
    case 'stale-dc-dropped':
      // The dispatcher leaves a stale datacenter out of the counts it answers, instead of keeping
      // its last known share and flagging it: a cut-off datacenter's viewers silently vanish.
      return withDispatcher((state, input, now) =>
        coreRoles.dispatcher.handle(state, input, now).map((effect) => {
          if (effect.kind !== 'send' || effect.message.type !== 'lease-reply') return effect;
          const { occupancy } = effect.message;
          if (occupancy === undefined) return effect;
          const dropped = occupancy.map((picture) => {
            const byDc = { ...picture.byDc };
            let count = picture.count;
            for (const dc of picture.stale) {
              count -= byDc[dc] ?? 0;
              delete byDc[dc];
            }
            return { ...picture, count, byDc, stale: [] };
          });
          return { ...effect, message: { ...effect.message, occupancy: dropped } };
        }),
      );
    case 'totals-expire-before-stale':
      // The dispatcher's totals hold for the lease and two intervals (the core's rule before its
      // fix): shorter than a peer takes to find a silent datacenter stale when the lease is shorter
      // than an interval, so a cut-off datacenter's share expires, unflagged, before it is stale.
      return withDispatcher((state, input, now) =>
        coreRoles.dispatcher.handle(state, input, now).map((effect) => {
          if (effect.kind !== 'send' || effect.message.type !== 'occupancy') return effect;
          const validMs = state.leaseMsSeen + 2 * state.config.occupancyEveryMs;
          const totals = effect.message.totals.map((total) => ({ ...total, validMs }));
          return { ...effect, message: { ...effect.message, totals } };
        }),
      );
    default:
      return unreachable(bug);
  }
}

function withFrontend(handle: Roles['frontend']['handle']): Roles {
  return { ...coreRoles, frontend: { ...coreRoles.frontend, handle } };
}

function withDispatcher(handle: Roles['dispatcher']['handle']): Roles {
  return { ...coreRoles, dispatcher: { ...coreRoles.dispatcher, handle } };
}

function withStore(handle: Roles['store']['handle']): Roles {
  return { ...coreRoles, store: { ...coreRoles.store, handle } };
}

/** A store whose lookups answer `answer(...)` instead of the live frontends the core found. */
function withLookupAnswer(
  answer: (state: StoreState, topic: Topic, frontends: NodeId[], now: number) => NodeId[],
): Roles {
  return withStore((state, input, now) => {
    const effects = coreRoles.store.handle(state, input, now);
    if (input.kind !== 'message' || input.message.type !== 'store-request') return effects;
    const { request } = input.message;
    if (request.op !== 'lookup') return effects;
    return effects.map((effect) => {
      if (effect.kind !== 'send' || effect.message.type !== 'store-reply') return effect;
      const { reply } = effect.message;
      if (reply.op !== 'frontends') return effect;
      const frontends = answer(state, request.topic, reply.frontends, now);
      return { ...effect, message: { ...effect.message, reply: { ...reply, frontends } } };
    });
  });
}

/** A string payload with a space added (what the simulator publishes), any other JSON value wrapped in an array. */
function corrupted(payload: JsonValue): JsonValue {
  return typeof payload === 'string' ? `${payload} ` : [payload];
}

function mapDeliver(effects: Effect[], f: (e: Extract<Effect, { kind: 'deliver' }>) => Effect): Effect[] {
  return effects.map((effect) => (effect.kind === 'deliver' ? f(effect) : effect));
}
