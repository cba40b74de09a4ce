/**
 * Raw HTTP/1.1 over one TCP socket, for tests that need what fetch hides: several requests on one
 * keep-alive connection, HEAD framing, and bytes no client library would send. Responses are
 * framed as a client must frame them: by Content-Length, with no body after HEAD (or 1xx, 204,
 * 304), and up to the close when a response has neither a length nor chunks. Every socket is
 * destroyed by `closeTestServers`.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { cleanups } from './test-server.ts';

export interface RawResponse {
  status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
  /** An open-ended body (chunked, e.g. an event stream): `body` is empty and the reading stops at the headers. */
  streaming: boolean;
}

/** What came back for one request. */
export type RawOutcome =
  | { kind: 'response'; response: RawResponse }
  /** The server closed the connection before a whole response. */
  | { kind: 'closed'; received: string }
  /** No whole response within the time given: the socket is still open. */
  | { kind: 'silent'; received: string };

export class RawHttp {
  private buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    const end = (): void => {
      this.ended = true;
      this.wake?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static async connect(port: number): Promise<RawHttp> {
    const socket = connect(port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    return new RawHttp(socket);
  }

  /** Whether the server has closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  write(data: string | Buffer): void {
    if (!this.ended) this.socket.write(data);
  }

  /** Take the next response off the connection; `head` if it answers a HEAD request. */
  async read({ head = false, timeoutMs }: { head?: boolean; timeoutMs: number }): Promise<RawOutcome> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.wake?.();
    }, timeoutMs);
    try {
      for (;;) {
        const framed = this.frame(head);
        if (framed !== null) return { kind: 'response', response: framed };
        const received = this.buffer.toString('latin1');
        if (this.ended) return { kind: 'closed', received };
        if (timedOut) return { kind: 'silent', received };
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Wait until the server closes the connection or `timeoutMs` passes; take all that came. */
  async drain({ timeoutMs }: { timeoutMs: number }): Promise<{ bytes: Buffer; closed: boolean }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) {
      const timer = setTimeout(() => this.wake?.(), deadline - Date.now());
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
      clearTimeout(timer);
    }
    const bytes = this.buffer;
    this.buffer = Buffer.alloc(0);
    return { bytes, closed: this.ended };
  }

  close(): void {
    this.socket.destroy();
  }

  /** A whole response at the start of the buffer, taken off it; or null while it is incomplete. */
  private frame(head: boolean): RawResponse | null {
    const headerEnd = this.buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0) return null;
    const [statusLine = '', ...lines] = this.buffer.subarray(0, headerEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine);
    if (match === null) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = headerEnd + 4;
    const take = (bodyBytes: number, streaming = false): RawResponse => {
      const body = this.buffer.subarray(bodyStart, bodyStart + bodyBytes).toString('utf8');
      this.buffer = this.buffer.subarray(bodyStart + bodyBytes);
      return { status, headers, body, streaming };
    };
    const length = headers['content-length'];
    // After HEAD an answer has no body, except one that gives no length and closes: uWebSockets.js'
    // own error pages ignore HEAD, and read to the close a correct answer is empty all the same.
    const readToClose = length === undefined && headers.connection === 'close';
    if ((head && !readToClose) || status < 200 || status === 204 || status === 304) return take(0);
    if (length !== undefined) {
      return this.buffer.length - bodyStart >= Number(length) ? take(Number(length)) : null;
    }
    if (headers['transfer-encoding'] !== undefined) return take(0, true);
    return this.ended ? take(this.buffer.length - bodyStart) : null;
  }
}

/** One request on a connection of its own: send, read one response, close. */
export async function rawRequest(
  port: number,
  data: string | Buffer,
  { head = false, timeoutMs }: { head?: boolean; timeoutMs: number },
): Promise<RawOutcome> {
  const connection = await RawHttp.connect(port);
  connection.write(data);
  const outcome = await connection.read({ head, timeoutMs });
  connection.close();
  return outcome;
}
