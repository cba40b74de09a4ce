/**
 * The IPC messages between the benchmark's parent process and its children (load clients,
 * publishers, alternative servers). Every request carries `rid`; the child answers with the same
 * `rid`, so the parent can await it.
 */
import type { SparseHistogram } from './histogram.ts';

/** How a load client talks to the server under test. */
export type Transport = 'sse' | 'ws' | 'socketio';

export type ClientRequest =
  | {
      type: 'open';
      rid: number;
      transport: Transport;
      /** Base URL, e.g. http://127.0.0.1:7000 */
      url: string;
      topic: string;
      count: number;
      /** Connection attempts in flight at once. */
      concurrency: number;
      timeoutMs: number;
    }
  | { type: 'reset'; rid: number }
  | { type: 'report'; rid: number }
  | { type: 'close'; rid: number };

export interface OpenReply {
  rid: number;
  open: number;
  failed: number;
  firstError: string | null;
  ms: number;
}

export interface ClientReport {
  rid: number;
  /** Connections open and subscribed right now. */
  open: number;
  /** Connections that closed or failed after opening, since the start. */
  lost: number;
  /** Events received since the last reset, and their publish-to-client latency. */
  events: number;
  /** Events received since the process started. */
  total: number;
  histogram: SparseHistogram;
  /** Frames whose stamp could not be read. */
  unstamped: number;
  /** Since the last reset. */
  elapsedMs: number;
}

export type PublisherRequest =
  | {
      type: 'start';
      rid: number;
      url: string;
      topic: string;
      /** Publishes per second; 0 publishes as fast as the server answers. */
      ratePerSecond: number;
      /** Keep-alive connections, each with one request in flight. */
      connections: number;
      /** Events per request: 1 posts one event, more post a batch (a JSON array). */
      batch?: number;
    }
  | { type: 'reset'; rid: number }
  | { type: 'report'; rid: number }
  | { type: 'stop'; rid: number };

export interface PublisherReport {
  rid: number;
  /** Since the last reset. */
  sent: number;
  ok: number;
  /** Publishes answered ok since the publisher started. */
  totalOk: number;
  failed: number;
  /** Publishes due at the asked rate that could not be sent (every connection busy). */
  behind: number;
  firstError: string | null;
  /** Request-to-response latency of the publishes answered since the last reset. */
  histogram: SparseHistogram;
  elapsedMs: number;
}

export interface ServerReady {
  type: 'ready';
  port: number;
}

type Handlers<R extends { type: string; rid: number }> = {
  [K in R['type']]: (request: Extract<R, { type: K }>) => object | Promise<object>;
};

/**
 * A child's side of the protocol: one handler per request type returns the reply (at once or
 * later); it goes back to the parent with the request's `rid`, or, if the handler failed, as
 * `{rid, error}`. A child whose parent went away (finished, or crashed) never lingers.
 */
export function serveRequests<R extends { type: string; rid: number }>(handlers: Handlers<R>): void {
  process.on('message', (request: R) => {
    const handler = handlers[request.type as R['type']] as (request: R) => object | Promise<object>;
    Promise.resolve()
      .then(() => handler(request))
      .then(
        (body) => process.send?.({ ...body, rid: request.rid }),
        (error: unknown) => process.send?.({ rid: request.rid, error: String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** End this child shortly, once its last reply has been sent. */
export function exitSoon(): void {
  setTimeout(() => process.exit(0), 50).unref();
}
