/**
 * What a server did, told as it happens to whoever records a run: a chaos run (chaos/) writes it as
 * the simulator's facts, so the simulator's checkers can judge real processes. A server without a
 * recorder tells no one and does none of this work.
 *
 * The recorder decides nothing and changes nothing: it is told after the decision and before the
 * IO it leads to. A message to another node carries what `sending` returned (its tag, opaque here)
 * in its envelope, so the target's recorder can name the very message the source's recorder named.
 */
import type {
  ConnectionId,
  DispatcherState,
  Effect,
  LeaseChange,
  Message,
  NodeId,
  RequestId,
  StoreReply,
} from '../core/index.ts';
import type { HistoryEffect } from './store-port.ts';

/** What travels with a message for the target's recorder: any JSON value the recorder chose. */
export type RecordTag =
  string | number | boolean | null | readonly unknown[] | { readonly [key: string]: unknown };

export interface Recorder {
  /** The role of this node that returned `effect` is about to perform it (`dispatcher`: that role's state, or null). */
  performed(role: 'frontend' | 'dispatcher', effect: Effect, dispatcher: DispatcherState | null): void;
  /** A message leaves for `target` (another node, or this one); the tag travels with it. */
  sending(target: NodeId, message: Message): RecordTag | undefined;
  /** A message from `source` is about to be handled; `tag` is what the source's recorder gave it. */
  received(source: NodeId, message: Message, tag: unknown): void;
  /** A message sent to `target` is known not to have arrived (the target refused it or did not answer). */
  sendFailed(target: NodeId, message: Message, tag: RecordTag | undefined, why: string): void;
  /** The store answered request `requestId` (the `store-request` effect before it named the request). */
  storeAnswered(requestId: RequestId, reply: StoreReply): void;
  /** The store never answered request `requestId`. */
  storeFailed(requestId: RequestId, why: string): void;
  /** The store changed a lease. */
  lease(change: LeaseChange): void;
  /** The store appended to or trimmed a history. */
  history(effect: HistoryEffect): void;
  /**
   * A client connection opened at this frontend; `viewer` is what the client said it is in its
   * `x-stadium-viewer` request header (empty when it said nothing).
   */
  connectionOpened(connection: ConnectionId, viewer: string): void;
  /** A client connection is gone (the client left, or the frontend closed it). */
  connectionClosed(connection: ConnectionId): void;
}

/** The request header a recorded client names itself in. */
export const viewerHeader = 'x-stadium-viewer';
