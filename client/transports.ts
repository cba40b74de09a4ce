/**
 * The two ways to a frontend, behind one small interface (`Link`): a Server-Sent Events stream read
 * with `fetch`, or a WebSocket. A link is one connection attempt: it opens at most once, reports
 * frames, and reports its end once (`closed`), whoever ended it; the client makes a new link for
 * each (re)connect. The constructors come from the caller (browser globals by default), so the same
 * code runs in browsers and in Node 20, which has `fetch` but no global WebSocket.
 *
 * Why SSE is read with `fetch` rather than `EventSource`: EventSource hides the HTTP status of a
 * refused stream (a `401` for a bad token looks like a network error), and it reconnects by itself
 * with its own delay and its own `Last-Event-ID`, which the client would have to fight to apply its
 * backoff and its cursor. A streamed `fetch` gives the status and the error body, and ends when the
 * stream ends. Cursor and token go in the query (`?lastEventId=`, `?token=`), not in headers, so a
 * cross-origin page needs no CORS preflight.
 */
import { SseReader, sseFrame, wsFrame } from './wire.ts';
import type { Frame } from './wire.ts';

/** The part of a browser WebSocket (or of the `ws` package's) the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;
export type FetchFunction = typeof fetch;

/** Why a link ended. `status`/`code`: the server refused it (HTTP status and error code). */
export interface LinkEnd {
  reason: string;
  status?: number;
  code?: string;
}

export interface LinkHandlers {
  open(): void;
  frame(frame: Frame): void;
  /** Bytes arrived (a frame, a heartbeat comment, a pong): the link is alive. */
  activity(): void;
  /** Called once, last, whoever ended the link (after `close()` too). */
  closed(end: LinkEnd): void;
}

export interface Link {
  readonly transport: 'sse' | 'ws';
  /** Send one client message (WebSocket only; an SSE link takes its topics from its URL). */
  send(message: Record<string, unknown>): void;
  close(): void;
}

const ignore = (): void => {};

/** WebSocket `OPEN`: the same number in browsers and in `ws`. */
const wsOpen = 1;

export function openSseLink(url: string, fetchFn: FetchFunction, handlers: LinkHandlers): Link {
  const controller = new AbortController();
  let done = false;
  const end = (how: LinkEnd): void => {
    if (done) return;
    done = true;
    handlers.closed(how);
  };
  const read = async (): Promise<void> => {
    const response = await fetchFn(url, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (!response.ok || response.body === null) {
      let code = 'http-error';
      let reason = `the stream was refused: HTTP ${response.status}`;
      try {
        const body = (await response.json()) as { code?: unknown; error?: unknown };
        if (typeof body.code === 'string') code = body.code;
        if (typeof body.error === 'string') reason = `${reason}: ${body.error}`;
      } catch {
        // Not JSON: the status says enough.
      }
      return end({ reason, status: response.status, code });
    }
    handlers.open();
    const reader = new SseReader((type, data) => {
      if (!done) handlers.frame(sseFrame(type, data));
    });
    const decoder = new TextDecoder();
    const body = response.body.getReader();
    for (;;) {
      const { value, done: finished } = await body.read();
      if (finished || done) break;
      handlers.activity();
      reader.feed(decoder.decode(value, { stream: true }));
    }
    end({ reason: 'the server ended the stream' });
  };
  read().catch((error: unknown) =>
    end({ reason: `the stream failed: ${error instanceof Error ? error.message : String(error)}` }),
  );
  return {
    transport: 'sse',
    send: () => {
      throw new Error('an SSE link sends nothing: its topics are in its URL');
    },
    close: () => {
      if (done) return;
      controller.abort();
      end({ reason: 'closed by the client' });
    },
  };
}

export function openWsLink(url: string, WebSocketCtor: WebSocketConstructor, handlers: LinkHandlers): Link {
  let done = false;
  const end = (how: LinkEnd): void => {
    if (done) return;
    done = true;
    socket.onopen = socket.onmessage = socket.onclose = null;
    // Not null: the `ws` package throws an error event nobody listens to (closing while connecting).
    socket.onerror = ignore;
    handlers.closed(how);
  };
  const socket = new WebSocketCtor(url);
  socket.onopen = () => {
    if (!done) handlers.open();
  };
  socket.onmessage = (event) => {
    if (done) return;
    handlers.activity();
    if (typeof event.data !== 'string') return handlers.frame({ kind: 'malformed', why: 'a binary message' });
    handlers.frame(wsFrame(event.data));
  };
  // A browser says nothing about why; `close` follows with the code.
  socket.onerror = ignore;
  socket.onclose = (event) =>
    end({ reason: `the WebSocket closed (${event.code}${event.reason === '' ? '' : ` ${event.reason}`})` });
  return {
    transport: 'ws',
    send: (message) => {
      if (!done && socket.readyState === wsOpen) socket.send(JSON.stringify(message));
    },
    close: () => {
      if (done) return;
      end({ reason: 'closed by the client' });
      try {
        socket.close(1000, 'closed by the client');
      } catch {
        // Still connecting in some runtimes: it is dropped either way.
      }
    },
  };
}
