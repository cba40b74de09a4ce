/**
 * What every route family shares: the uWebSockets.js app, the config, the error reply (every error
 * a route answers is counted by its code), the table of methods each path takes (the fallback
 * route answers `405` with it), and the refusal of new work once shutdown began.
 *
 * Route families: prod/route-publish.ts, prod/route-stream.ts, prod/route-websocket.ts,
 * prod/peer-transport.ts (`/internal/message`) and prod/route-operations.ts (health, metrics, the
 * demo page, and the fallback that answers `405`, `426` and `404`).
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { ServeConfig } from './config.ts';
import { exchange, replyError } from './http-reply.ts';
import type { Exchange } from './http-reply.ts';
import type { HttpError } from './http-input.ts';
import type { Metrics } from './metrics.ts';
import { shuttingDownError } from './shutdown.ts';
import type { Lifecycle } from './shutdown.ts';

/** Publishes and streams may be asked for from any page (the demo page, a browser app). */
export const corsHeaders: Readonly<Record<string, string>> = { 'Access-Control-Allow-Origin': '*' };

export class HttpRoutes {
  /** The methods each path takes, for `405` and its `Allow` header; each family adds its own. */
  readonly allowed = new Map<string, string>();
  /** The same for paths that hold a parameter (`/v1/topics/<topic>/occupancy`). */
  readonly allowedPatterns: { pattern: RegExp; methods: string }[] = [];
  /** The largest request body worth reading: a payload at the limit, JSON-escaped, and an envelope. */
  readonly bodyBytesMax: number;

  constructor(
    readonly app: TemplatedApp,
    readonly config: ServeConfig,
    private readonly metrics: Metrics,
    private readonly lifecycle: Lifecycle,
  ) {
    this.bodyBytesMax = config.payloadLimitBytes * 6 + 16_384;
  }

  /** The methods `path` takes, or undefined when no route has it. */
  allowedFor(path: string): string | undefined {
    return this.allowed.get(path) ?? this.allowedPatterns.find(({ pattern }) => pattern.test(path))?.methods;
  }

  /** A GET route that answers HEAD too: the same status and headers, no body. */
  getAndHead(pattern: string, handler: (ex: Exchange) => void): void {
    this.app.get(pattern, (res) => handler(exchange(res)));
    this.app.head(pattern, (res) => handler(exchange(res, { head: true })));
  }

  /** Answer `error` as JSON, counted by its code. */
  fail(ex: Exchange, error: HttpError, headers: Record<string, string> = {}, closeConnection = false): void {
    this.metrics.httpErrors.inc({ code: error.code });
    replyError(ex, error, headers, {}, closeConnection);
  }

  /** Once shutdown began, new work is refused with `503 shutting-down`: true when it was. */
  refusedForShutdown(ex: Exchange, headers: Record<string, string> = {}): boolean {
    if (!this.lifecycle.shuttingDown) return false;
    this.fail(ex, shuttingDownError, headers);
    return true;
  }
}
