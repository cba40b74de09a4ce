/**
 * What a frontend's routes tell the core about their connections. SSE streams and WebSockets share
 * one numbering (`<node>#<n>`), and what their clients do becomes `client` inputs to the frontend.
 */
import type { ClientAction, ConnectionId, EventId, NodeId, Topic } from '../core/index.ts';
import type { Clients } from './clients.ts';
import type { Work } from './host-loop.ts';
import type { TokenExpiry } from './token-expiry.ts';

export class ClientInputs {
  private nextConnection = 1;

  constructor(
    private readonly nodeId: NodeId,
    private readonly feed: (work: Work) => void,
  ) {}

  newConnectionId(): ConnectionId {
    return `${this.nodeId}#${this.nextConnection++}`;
  }

  act(connection: ConnectionId, action: ClientAction): void {
    this.feed({ role: 'frontend', input: { kind: 'client', connection, action } });
  }

  /** Join `topics`: one `resume` of them all after `lastEventId` when there is one, else a `subscribe` each. */
  join(connection: ConnectionId, topics: Topic[], lastEventId: EventId | null): void {
    if (lastEventId !== null) {
      this.act(connection, { type: 'resume', topics, lastEventId });
      return;
    }
    for (const topic of topics) this.act(connection, { type: 'subscribe', topic });
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
