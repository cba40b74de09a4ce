/**
 * A subscribe token's `exp` bounds its connection's life (only with `--jwt-secret`). When it
 * passes, the client is told why (an SSE `token-expired` notice, a WebSocket `401 token-expired`
 * error) and its connection ends, which the frontend hears as a disconnect. A WebSocket's `refresh`
 * moves its expiry; a connection that ends first is forgotten. Timing is prod/expiries.ts'.
 */
import type { ConnectionId } from '../core/index.ts';
import type { Clients } from './clients.ts';
import { Expiries } from './expiries.ts';
import type { Metrics } from './metrics.ts';
import { wsError } from './wire.ts';

export class TokenExpiry {
  private readonly expiries = new Expiries((id) => this.expired(id));

  constructor(
    private readonly clients: Clients,
    private readonly metrics: Metrics,
  ) {}

  /** `id`'s token expires at `atMs` (null: never), replacing what was set before. */
  set(id: ConnectionId, atMs: number | null): void {
    if (atMs === null) this.expiries.delete(id);
    else this.expiries.set(id, atMs);
  }

  /** `id` is gone, or its token no longer expires. */
  forget(id: ConnectionId): void {
    this.expiries.delete(id);
  }

  close(): void {
    this.expiries.close();
  }

  /** The token's `exp` passed: tell the client why, and end its connection. */
  private expired(id: ConnectionId): void {
    const conn = this.clients.get(id);
    if (conn === undefined || !conn.open) return;
    this.metrics.httpErrors.inc({ code: 'token-expired' });
    const message = 'the subscribe token has expired: connect again with a fresh one';
    if (conn.kind === 'sse') this.clients.notice(id, { code: 'token-expired', message });
    else this.clients.send(conn, wsError(401, 'token-expired', message));
    this.clients.close(conn, 'end', 'token-expired');
  }
}
