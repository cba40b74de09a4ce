/**
 * Small helpers over uWebSockets.js responses: reading a bounded body, and answering once, corked,
 * only while the client is still there. A response handled asynchronously must have its abort
 * handler attached before the handler returns; `Exchange` carries that fact. The answer to a HEAD
 * request is the same status and headers without the body, so that keep-alive framing holds.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { assert } from '../core/index.ts';
import { errorBody } from './http-input.ts';
import type { HttpError } from './http-input.ts';

const statusText: Record<number, string> = {
  200: 'OK',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function statusLine(status: number): string {
  return `${status} ${statusText[status] ?? 'Unknown'}`;
}

/** One request/response pair, with whether the client went away or was already answered. */
export interface Exchange {
  readonly res: HttpResponse;
  /** A HEAD request: its answer carries no body. */
  readonly head: boolean;
  aborted: boolean;
  answered: boolean;
  onAbort: (() => void) | null;
}

/** Attach the abort handler; call inside the route handler, before any asynchronous step. */
export function exchange(res: HttpResponse, { head = false }: { head?: boolean } = {}): Exchange {
  const ex: Exchange = { res, head, aborted: false, answered: false, onAbort: null };
  res.onAborted(() => {
    ex.aborted = true;
    ex.onAbort?.();
  });
  return ex;
}

export function reply(
  ex: Exchange,
  status: number,
  body: string,
  headers: Record<string, string> = {},
  closeConnection = false,
): void {
  if (ex.aborted || ex.answered) return;
  assert(!(ex.head && closeConnection), 'a HEAD reply never closes the connection');
  ex.answered = true;
  ex.res.cork(() => {
    ex.res.writeStatus(statusLine(status));
    if (!('Content-Type' in headers)) ex.res.writeHeader('Content-Type', 'application/json');
    for (const [name, value] of Object.entries(headers)) ex.res.writeHeader(name, value);
    if (ex.head) {
      // The length GET would have, written by hand: `endWithoutBody(length)` in this build takes
      // the response for unfinished, and the connection is dropped instead of reading the next
      // request (prod/http-edges.test.ts fails with it).
      ex.res.writeHeader('Content-Length', String(Buffer.byteLength(body)));
      ex.res.endWithoutBody();
    } else {
      ex.res.end(body, closeConnection);
    }
  });
}

export function replyError(
  ex: Exchange,
  error: HttpError,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
  closeConnection = false,
): void {
  reply(ex, error.status, errorBody(error, extra), headers, closeConnection);
}

/**
 * Read the whole body, at most `limitBytes`. Past the limit the reading stops at once and
 * `onTooLarge` runs: a huge body costs the server no more than the limit.
 */
export function readBody(
  ex: Exchange,
  limitBytes: number,
  onBody: (body: string) => void,
  onTooLarge: () => void,
): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let stopped = false;
  ex.res.onData((chunk, isLast) => {
    if (stopped || ex.aborted) return;
    bytes += chunk.byteLength;
    if (bytes > limitBytes) {
      stopped = true;
      onTooLarge();
      return;
    }
    // uWebSockets.js reuses the chunk's memory after this callback returns: copy it.
    chunks.push(Buffer.from(chunk.slice(0)));
    if (isLast) onBody(Buffer.concat(chunks).toString('utf8'));
  });
}
