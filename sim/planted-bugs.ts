/**
 * Known bugs, planted in copies of the core's roles, that the checker and the property tests must
 * catch. Each is a small wrapper around the correct role, so the bug is exactly what its name says.
 */
import { eventOfStoreRequest, unreachable, type Effect } from '../core/index.ts';
import { coreRoles, type Roles } from './world/index.ts';

export type PlantedBug =
  | 'no-dedupe'
  | 'leases-ignored'
  | 'wrong-topic'
  | 'corrupt-payload'
  | 'forward-twice'
  | 'unsubscribe-lost'
  | 'skip-frontend';

export const plantedBugs: readonly PlantedBug[] = [
  'no-dedupe',
  'leases-ignored',
  'wrong-topic',
  'corrupt-payload',
  'forward-twice',
  'unsubscribe-lost',
  'skip-frontend',
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
          event: { ...effect.event, payload: `${effect.event.payload} ` },
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

function mapDeliver(effects: Effect[], f: (e: Extract<Effect, { kind: 'deliver' }>) => Effect): Effect[] {
  return effects.map((effect) => (effect.kind === 'deliver' ? f(effect) : effect));
}
