/**
 * What the raw load clients need to read HTTP/1.1 without node:http: the response head, the
 * chunked transfer coding uWebSockets.js uses for streamed responses, the Server-Sent Events line
 * format, and keep-alive responses with a Content-Length. Every parser here is incremental: bytes
 * arrive in arbitrary pieces (a chunk-size line or an SSE line may be split anywhere).
 *
 * At 10,000 connections these run in one process, so they work on latin1 strings (one char per
 * byte, no UTF-8 decoding cost; the benchmark's frames are ASCII) and do no per-byte allocation.
 */

export interface ResponseHead {
  status: number;
  headers: Record<string, string>;
  /** Bytes of the head, including the blank line that ends it. */
  length: number;
}

/** Parse a response head from the start of `text`, or null if its blank line has not arrived yet. */
export function parseResponseHead(text: string): ResponseHead | null {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const statusLine = lines[0] ?? '';
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (match === null) throw new Error(`not an HTTP/1.1 response: ${JSON.stringify(statusLine.slice(0, 60))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers, length: end + 4 };
}

/** Decodes `Transfer-Encoding: chunked` into the payload bytes, piece by piece. */
export class ChunkedDecoder {
  /** Payload bytes left in the current chunk; -1 while reading a size line. */
  private remaining = -1;
  /** A partial size line, or the CRLF after a chunk's data that has not fully arrived. */
  private pending = '';
  private afterData = false;
  ended = false;

  /** Feed raw body text; returns the payload text it completes (possibly empty). */
  push(input: string): string {
    let out = '';
    let text = this.pending + input;
    this.pending = '';
    let at = 0;
    while (at < text.length && !this.ended) {
      if (this.afterData) {
        // Each chunk's data is followed by CRLF.
        if (text.length - at < 2) {
          this.pending = text.slice(at);
          return out;
        }
        if (text.charCodeAt(at) !== 13 || text.charCodeAt(at + 1) !== 10)
          throw new Error('chunked body: missing CRLF after chunk data');
        at += 2;
        this.afterData = false;
        continue;
      }
      if (this.remaining < 0) {
        const eol = text.indexOf('\r\n', at);
        if (eol < 0) {
          this.pending = text.slice(at);
          return out;
        }
        const size = parseInt(text.slice(at, eol), 16);
        if (!Number.isFinite(size) || size < 0)
          throw new Error(`chunked body: bad chunk size ${JSON.stringify(text.slice(at, eol))}`);
        at = eol + 2;
        if (size === 0) {
          this.ended = true;
          break;
        }
        this.remaining = size;
        continue;
      }
      const take = Math.min(this.remaining, text.length - at);
      out += text.slice(at, at + take);
      at += take;
      this.remaining -= take;
      if (this.remaining === 0) {
        this.remaining = -1;
        this.afterData = true;
      }
    }
    text = '';
    return out;
  }
}

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/**
 * The Server-Sent Events line format (the parts the benchmark needs): `data:` lines joined with
 * newlines, `id:` and `event:`, comments ignored, a blank line dispatches; CRLF, LF and CR endings.
 */
export class SseParser {
  private partial = '';
  private data: string[] = [];
  private id: string | null = null;
  private event = '';
  /** The last chunk ended with CR: a LF at the start of the next one belongs to it. */
  private skipLf = false;

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  push(input: string): void {
    let text = input;
    if (this.skipLf && text.charCodeAt(0) === 10) text = text.slice(1);
    this.skipLf = false;
    // Servers end lines with LF alone in practice: then a native search finds each line end,
    // instead of a look at every character (most of a load client's time at 10,000 streams).
    if (text.indexOf('\r') < 0) return this.pushLfOnly(text);
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.partial === '' ? text.slice(start, i) : this.partial + text.slice(start, i);
      this.partial = '';
      this.line(line);
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.skipLf = true;
        }
      }
      start = i + 1;
    }
    if (start < text.length) this.partial += text.slice(start);
  }

  private pushLfOnly(text: string): void {
    let start = 0;
    for (let eol = text.indexOf('\n'); eol >= 0; eol = text.indexOf('\n', start)) {
      const line = this.partial === '' ? text.slice(start, eol) : this.partial + text.slice(start, eol);
      this.partial = '';
      this.line(line);
      start = eol + 1;
    }
    if (start < text.length) this.partial += text.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0)
        this.onEvent({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
      this.data = [];
      this.event = '';
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' a comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
    else if (field === 'event') this.event = value;
  }
}

/**
 * Splits a keep-alive stream into responses that each carry a Content-Length (what
 * uWebSockets.js sends for a finished reply). Calls back with each status and body.
 */
export class ResponseReader {
  private buffer = '';

  constructor(private readonly onResponse: (status: number, body: string) => void) {}

  push(input: string): void {
    this.buffer += input;
    for (;;) {
      const head = parseResponseHead(this.buffer);
      if (head === null) return;
      const lengthHeader = head.headers['content-length'];
      if (lengthHeader === undefined) throw new Error('a keep-alive response without Content-Length');
      const end = head.length + Number(lengthHeader);
      if (this.buffer.length < end) return;
      const body = this.buffer.slice(head.length, end);
      this.buffer = this.buffer.slice(end);
      this.onResponse(head.status, body);
    }
  }
}

/** The marker the publisher puts in every payload, followed by its send time in ms. */
export const stampMarker = 'bench:';

/** A payload carrying its publish time and a sequence number: `bench:<ms>:<seq>`. */
export function stampPayload(sentAtMs: number, seq: number): string {
  return `${stampMarker}${sentAtMs.toFixed(3)}:${seq}`;
}

/** The publish time stamped in a frame (SSE data, WebSocket or Socket.IO JSON), or NaN. */
export function stampOf(frame: string): number {
  const at = frame.indexOf(stampMarker);
  return at < 0 ? NaN : parseFloat(frame.slice(at + stampMarker.length, at + stampMarker.length + 24));
}
