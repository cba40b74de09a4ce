/**
 * A WebSocket client with the browser's shape (as much of it as the client library uses:
 * `WebSocketLike` in client/transports.ts), over node:http, so measurements in prod/ can drive the
 * client library's WebSocket transport on Node 20 (which has no global WebSocket) without a
 * package prod/ may not use. Framing is raw-viewers.ts': masked text frames out; server frames in,
 * reassembled; a ping is answered with a pong, as browsers do.
 *
 * Lifecycle, as in browsers: `readyState` CONNECTING (0) -> OPEN (1) on the 101 -> CLOSING (2) ->
 * CLOSED (3); `onclose` fires exactly once, asynchronously: with the server's close code, 1006
 * when the connection just ended (or never opened: after `onerror`), or the code given to
 * `close()`.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketLike } from '../client/index.ts';
import { clientFrame, FrameReader, webSocketUpgrade } from './raw-viewers.ts';

const opcodes = { text: 0x1, close: 0x8, ping: 0x9, pong: 0xa } as const;

export class NodeWebSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  private socket: Duplex | null = null;
  private readonly req: ClientRequest;

  constructor(url: string) {
    const target = new URL(url);
    target.protocol = target.protocol === 'wss:' ? 'https:' : 'http:';
    this.req = webSocketUpgrade(target);
    this.req.once('error', (error) => this.fail(error.message));
    this.req.once('response', (res: IncomingMessage) => {
      res.resume();
      this.fail(`the server answered ${res.statusCode} instead of upgrading`);
    });
    this.req.once('upgrade', (_res: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgraded(socket, head),
    );
    this.req.end();
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('WebSocket is not open');
    this.socket?.write(clientFrame(opcodes.text, Buffer.from(data, 'utf8')));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    const wasOpen = this.readyState === 1;
    this.readyState = 2;
    if (wasOpen && this.socket !== null) {
      const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2);
      this.socket.write(clientFrame(opcodes.close, payload));
      this.socket.end();
    } else {
      this.req.destroy();
    }
    this.closed(code, reason);
  }

  private upgraded(socket: Duplex, head: Buffer): void {
    if (this.readyState !== 0) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    this.readyState = 1;
    const frames = new FrameReader((opcode, payload) => {
      if (opcode === opcodes.ping) {
        socket.write(clientFrame(opcodes.pong, payload));
      } else if (opcode === opcodes.close) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
        if (this.readyState === 1) socket.write(clientFrame(opcodes.close, payload.subarray(0, 2)));
        socket.destroy();
        this.closed(code, reason);
      } else if (opcode === opcodes.text && this.readyState === 1) {
        this.onmessage?.({ data: payload.toString('utf8') });
      }
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        frames.push(chunk);
      } catch (error) {
        socket.destroy();
        this.closed(1002, error instanceof Error ? error.message : String(error));
      }
    });
    socket.once('close', () => this.closed(1006, 'the connection ended'));
    socket.on('error', () => {});
    this.onopen?.({});
    if (head.length > 0) socket.emit('data', head);
  }

  private fail(message: string): void {
    if (this.readyState >= 2) return;
    this.socket?.destroy();
    const handler = this.onerror;
    this.readyState = 2;
    queueMicrotask(() => handler?.({ message }));
    this.closed(1006, message);
  }

  private closed(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    setImmediate(() => this.onclose?.({ code, reason }));
  }
}
