/**
 * Viewers for measurements on real processes: an SSE stream and a WebSocket, each read straight
 * from node:http, that record every event they receive (with when) and the moment their connection
 * dropped. They never reconnect: a measurement must know which viewers stayed connected throughout,
 * and a client library that reconnects by itself would hide exactly that.
 *
 * - SSE: `GET /v1/stream?topic=T`; the text/event-stream is parsed by its own rules (fields up to a
 *   blank line; comments and `retry:` ignored); `message` events are recorded, `notice` events kept.
 * - WebSocket: the RFC 6455 handshake over node:http's `upgrade`, one masked `subscribe` frame, then
 *   server frames (unmasked; text, continuation, ping, close) read from the socket; a ping is
 *   answered with a pong so the server's idle timer never closes a viewer that merely listens.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export type ViewerTransport = 'sse' | 'ws';

/** One event as a viewer received it. */
export interface Receipt {
  payload: string;
  atMs: number;
}

export interface RawViewer {
  readonly name: string;
  /** The frontend's base URL. */
  readonly frontend: string;
  readonly transport: ViewerTransport;
  /** Event id -> its first receipt. */
  readonly received: Map<string, Receipt>;
  /** Ids received again after their first receipt, in order. */
  readonly duplicates: string[];
  /** Codes of the notices received (e.g. `history-unavailable`). */
  readonly notices: string[];
  /** When the connection ended without `close()` being called, and why; null while it holds. */
  dropped(): { atMs: number; reason: string } | null;
  close(): void;
}

class ViewerRecord implements RawViewer {
  readonly received = new Map<string, Receipt>();
  readonly duplicates: string[] = [];
  readonly notices: string[] = [];
  closing = false;
  private drop: { atMs: number; reason: string } | null = null;
  teardown: () => void = () => {};

  constructor(
    readonly name: string,
    readonly frontend: string,
    readonly transport: ViewerTransport,
  ) {}

  event(id: string, payload: string): void {
    if (this.received.has(id)) this.duplicates.push(id);
    else this.received.set(id, { payload, atMs: Date.now() });
  }

  ended(reason: string): void {
    if (!this.closing && this.drop === null) this.drop = { atMs: Date.now(), reason };
  }

  dropped(): { atMs: number; reason: string } | null {
    return this.drop;
  }

  close(): void {
    this.closing = true;
    this.teardown();
  }
}

/** Open an SSE stream of one topic; resolves once the frontend answered 200. */
export function sseViewer(
  name: string,
  frontend: string,
  topic: string,
  timeoutMs = 5_000,
): Promise<RawViewer> {
  const viewer = new ViewerRecord(name, frontend, 'sse');
  const url = new URL(`/v1/stream?topic=${encodeURIComponent(topic)}`, frontend);
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { accept: 'text/event-stream' } });
    const timer = setTimeout(
      () => fail(new Error(`${name}: no answer from ${url.href} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error): void => {
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    viewer.teardown = () => req.destroy();
    req.once('error', (error) => {
      viewer.ended(`error: ${error.message}`);
      fail(error);
    });
    req.once('response', (res: IncomingMessage) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        res.resume();
        fail(new Error(`${name}: ${url.href} answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      const parser = new SseParser((type, data) => {
        if (type === 'message') {
          const event = JSON.parse(data) as { id: string; payload: string };
          viewer.event(event.id, event.payload);
        } else if (type === 'notice') {
          viewer.notices.push((JSON.parse(data) as { code: string }).code);
        }
      });
      res.on('data', (chunk: string) => parser.push(chunk));
      res.once('close', () => viewer.ended('stream closed'));
      resolve(viewer);
    });
    req.end();
  });
}

/**
 * Parses text/event-stream chunks into (event type, data, last event id) dispatches. The last event
 * id is the stream's, as EventSource keeps it: set by an `id:` field (one holding NUL is ignored)
 * and kept across events that name none.
 */
export class SseParser {
  private partial = '';
  private type = '';
  private data: string[] = [];
  private lastEventId = '';

  constructor(private readonly dispatch: (type: string, data: string, lastEventId: string) => void) {}

  push(chunk: string): void {
    const lines = (this.partial + chunk).split(/\r\n|\r|\n/);
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0)
        this.dispatch(this.type === '' ? 'message' : this.type, this.data.join('\n'), this.lastEventId);
      this.type = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
  }
}

/** Open a WebSocket and subscribe to one topic; resolves once the frontend said `subscribed`. */
export function wsViewer(
  name: string,
  frontend: string,
  topic: string,
  timeoutMs = 5_000,
): Promise<RawViewer> {
  const viewer = new ViewerRecord(name, frontend, 'ws');
  const url = new URL('/v1/ws', frontend);
  return new Promise((resolve, reject) => {
    let socket: Duplex | null = null;
    const req = webSocketUpgrade(url);
    let settled = false;
    const timer = setTimeout(
      () => fail(new Error(`${name}: not subscribed within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error): void => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      req.destroy();
      socket?.destroy();
      reject(error);
    };
    viewer.teardown = () => {
      req.destroy();
      socket?.destroy();
    };
    req.once('error', (error) => fail(error));
    req.once('response', (res: IncomingMessage) => {
      res.resume();
      fail(new Error(`${name}: ${url.href} refused the upgrade with ${res.statusCode}`));
    });
    req.once('upgrade', (_res: IncomingMessage, upgraded: Duplex, head: Buffer) => {
      socket = upgraded;
      const frames = new FrameReader((opcode, payload) => {
        if (opcode === opcodes.ping) {
          upgraded.write(clientFrame(opcodes.pong, payload));
        } else if (opcode === opcodes.close) {
          viewer.ended(`close frame ${payload.length >= 2 ? payload.readUInt16BE(0) : ''}`.trim());
          upgraded.destroy();
        } else if (opcode === opcodes.text) {
          const message = JSON.parse(payload.toString('utf8')) as {
            type: string;
            id?: string;
            payload?: string;
            code?: string;
          };
          if (message.type === 'event') viewer.event(message.id ?? '', message.payload ?? '');
          else if (message.type === 'notice') viewer.notices.push(message.code ?? '');
          else if (message.type === 'subscribed' && !settled) {
            settled = true;
            clearTimeout(timer);
            resolve(viewer);
          } else if (message.type === 'error') {
            fail(new Error(`${name}: ${JSON.stringify(message)}`));
          }
        }
      });
      upgraded.on('data', (chunk: Buffer) => {
        try {
          frames.push(chunk);
        } catch (error) {
          viewer.ended(String(error));
          upgraded.destroy();
        }
      });
      upgraded.once('close', () => viewer.ended('socket closed'));
      upgraded.on('error', () => {});
      upgraded.write(clientFrame(opcodes.text, Buffer.from(JSON.stringify({ type: 'subscribe', topic }))));
      if (head.length > 0) upgraded.emit('data', head);
    });
    req.end();
  });
}

const opcodes = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/**
 * The client's side of a WebSocket handshake (RFC 6455 section 4.1) as a node:http request of its
 * own connection; the caller listens for `upgrade` (the socket) or `response` (refused). `headers`
 * go with it (a viewer naming itself, say).
 */
export function webSocketUpgrade(url: URL, headers: Record<string, string> = {}): ClientRequest {
  return request(url, {
    agent: false,
    headers: {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': randomBytes(16).toString('base64'),
      ...headers,
    },
  });
}

/** A masked client frame with FIN set (RFC 6455 section 5.2). */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | length])
      : length < 65_536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLength(length)]);
  const mask = randomBytes(4);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([header, mask, masked]);
}

function bigLength(length: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(length));
  return bytes;
}

/** Reassembles server frames (unmasked) into messages: control frames as they come, data frames whole. */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentedOpcode = 0;

  constructor(private readonly message: (opcode: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const frame = this.next();
      if (frame === null) return;
      const { fin, opcode, payload } = frame;
      if (opcode >= 0x8) {
        this.message(opcode, payload);
      } else if (opcode === opcodes.continuation) {
        if (this.fragments.length === 0) throw new Error('a continuation frame without a first fragment');
        this.fragments.push(payload);
        if (fin) this.flush();
      } else if (fin) {
        this.message(opcode, payload);
      } else {
        this.fragmentedOpcode = opcode;
        this.fragments = [payload];
      }
    }
  }

  private flush(): void {
    const payload = Buffer.concat(this.fragments);
    this.fragments = [];
    this.message(this.fragmentedOpcode, payload);
  }

  private next(): { fin: boolean; opcode: number; payload: Buffer } | null {
    const data = this.buffered;
    if (data.length < 2) return null;
    const first = data[0] as number;
    const second = data[1] as number;
    if ((second & 0x80) !== 0) throw new Error('a masked frame from the server');
    let length = second & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (data.length < 4) return null;
      length = data.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (data.length < 10) return null;
      length = Number(data.readBigUInt64BE(2));
      offset = 10;
    }
    if (data.length < offset + length) return null;
    this.buffered = data.subarray(offset + length);
    return {
      fin: (first & 0x80) !== 0,
      opcode: first & 0x0f,
      payload: data.subarray(offset, offset + length),
    };
  }
}
