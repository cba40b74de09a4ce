/**
 * What a frontend's routes tell the core about their connections. SSE streams and WebSockets share
 * one numbering (`<node>#<n>`), and what their clients do becomes `client` inputs to the frontend.
 *
 * A connection that comes back resumes: from a plain event id (best-effort's replay of what the
 * frontend remembers), or from cursors (reliable mode: exactly what the history holds after each,
 * or a gap notice). A best-effort frontend given cursors resumes from one of their event ids, the
 * nearest thing it knows.
 */
import type {
  ClientAction,
  ConnectionId,
  DeliveryMode,
  EventId,
  NodeId,
  Topic,
  TopicCursor,
} from '../core/index.ts';

/**
 * The `lastEventId` of a reliable resume by cursors alone: the core requires a valid id, and a
 * reliable frontend resumes from the cursors, never from it.
 */
export const cursorResumeEventId = 'cursor';
import type { Clients } from './clients.ts';
import type { Work } from './host-loop.ts';
import type { TokenExpiry } from './token-expiry.ts';

export class ClientInputs {
  private nextConnection = 1;

  constructor(
    private readonly nodeId: NodeId,
    private readonly feed: (work: Work) => void,
    private readonly mode: DeliveryMode = 'best-effort',
  ) {}

  newConnectionId(): ConnectionId {
    return `${this.nodeId}#${this.nextConnection++}`;
  }

  act(connection: ConnectionId, action: ClientAction): void {
    this.feed({ role: 'frontend', input: { kind: 'client', connection, action } });
  }

  /**
   * Join `topics`: one `resume` of them all from `cursors` or after `lastEventId` when there is
   * one, else a `subscribe` each. `occupancy`: the connection also wants their viewer counts.
   */
  join(
    connection: ConnectionId,
    topics: Topic[],
    lastEventId: EventId | null,
    cursors: readonly TopicCursor[] | undefined,
    occupancy: boolean,
  ): void {
    // Only a connection that asks carries the flag, so the core's actions stay as they were without it.
    const watch = occupancy ? { occupancy: true } : {};
    if (cursors !== undefined) {
      const cursorEventId = cursors.find((cursor) => cursor.lastEventId !== undefined)?.lastEventId;
      if (this.mode === 'reliable') {
        const ownCursors = cursors.filter((cursor) => topics.includes(cursor.topic));
        const id = lastEventId ?? cursorEventId ?? cursorResumeEventId;
        this.act(connection, { type: 'resume', topics, lastEventId: id, cursors: ownCursors, ...watch });
        return;
      }
      lastEventId ??= cursorEventId ?? null;
    }
    if (lastEventId !== null) {
      this.act(connection, { type: 'resume', topics, lastEventId, ...watch });
      return;
    }
    for (const topic of topics) this.act(connection, { type: 'subscribe', topic, ...watch });
  }
}

/** What the frontend's routes (the SSE stream, the WebSocket) work with. */
export interface ViewerParts {
  clients: Clients;
  inputs: ClientInputs;
  expiry: TokenExpiry;
  /** The key subscribe tokens are signed with (`--jwt-secret`), or null: every topic is open. */
  jwtKey: Uint8Array | null;
}
