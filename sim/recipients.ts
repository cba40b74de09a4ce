/**
 * How a trace names the connections of a fan-out or a batch without listing thousands of ids: relative
 * to the topic's subscribers at that frontend at that moment (the subscriptions projection, which the
 * writer and the reader each build from the same `connection` records). No list means exactly the
 * subscribers; `add` and `omit` adjust them; `c` lists the connections outright when that is shorter.
 */
import type { ConnectionId } from '../core/index.ts';

export interface Recipients {
  c?: ConnectionId[];
  add?: ConnectionId[];
  omit?: ConnectionId[];
}

export function encodeRecipients(
  subscribers: ReadonlySet<number>,
  connections: readonly number[],
  idOf: (c: number) => ConnectionId,
): Recipients {
  if (subscribers.size === connections.length && connections.every((c) => subscribers.has(c))) return {};
  const listed = new Set(connections);
  const add = connections.filter((c) => !subscribers.has(c));
  const omit = [...subscribers].filter((c) => !listed.has(c));
  const ids = (list: number[]): ConnectionId[] => list.map(idOf);
  if (connections.length <= add.length + omit.length) return { c: ids([...connections]) };
  return { ...(add.length > 0 ? { add: ids(add) } : {}), ...(omit.length > 0 ? { omit: ids(omit) } : {}) };
}
