/**
 * The client half of WebSocket (RFC 6455) that the raw load clients need, over a `net` socket:
 * the upgrade request, masked client frames, and an incremental reader of the server's frames.
 *
 * Why not the `ws` package: at 10,000 connections one load-client process reads every frame of
 * every connection, and on this machine it shares two cores with the server under test. `ws`
 * spends several microseconds per message in its stream machinery; this reader walks the bytes of
 * each socket read once, hands back offsets instead of copies, and finds the publisher's stamp
 * without decoding the frame to a string. Every server in the benchmark is read the same way.
 */
import { stampMarker } from './sse-parser.ts';

export const opcodes = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** Any valid key will do: the benchmark does not check the server's Sec-WebSocket-Accept. */
const key = 'c3RhZGl1bS1iZW5jaC1rZXk=';

export function upgradeRequest(host: string, path: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

/**
 * A client frame. Clients must mask; a zero masking key leaves the payload as it is, which the
 * protocol allows (the key exists to protect proxies, not the server).
 */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const head = Buffer.alloc(2 + extended + 4);
  head[0] = 0x80 | opcode;
  if (extended === 0) head[1] = 0x80 | length;
  else if (extended === 2) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([head, payload]);
}

/** Calls back with each whole server frame as its opcode and the payload's offsets in `data`. */
export class FrameReader {
  private pending: Buffer | null = null;

  constructor(private readonly onFrame: (opcode: number, data: Buffer, start: number, end: number) => void) {}

  push(chunk: Buffer): void {
    const data = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let at = 0;
    while (data.length - at >= 2) {
      const first = data[at]!;
      const second = data[at + 1]!;
      if ((first & 0x80) === 0)
        throw new Error('a fragmented message (the benchmark servers send whole ones)');
      if ((second & 0x80) !== 0) throw new Error('a masked frame from the server');
      let length = second & 0x7f;
      let head = 2;
      if (length === 126) {
        if (data.length - at < 4) break;
        length = data.readUInt16BE(at + 2);
        head = 4;
      } else if (length === 127) {
        if (data.length - at < 10) break;
        if (data.readUInt32BE(at + 2) !== 0) throw new Error('a frame over 4 GiB');
        length = data.readUInt32BE(at + 6);
        head = 10;
      }
      if (data.length - at < head + length) break;
      this.onFrame(first & 0x0f, data, at + head, at + head + length);
      at += head + length;
    }
    if (at < data.length) this.pending = Buffer.from(data.subarray(at));
  }
}

const markerBytes = Buffer.from(stampMarker, 'latin1');

/** The publish time stamped in `data[start, end)` (`bench:<ms>:<seq>`), or NaN. */
export function stampInBytes(data: Buffer, start: number, end: number): number {
  const at = data.indexOf(markerBytes, start);
  if (at < 0 || at + markerBytes.length >= end) return NaN;
  let value = 0;
  let scale = 0;
  let i = at + markerBytes.length;
  for (; i < end; i++) {
    const c = data[i]!;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      if (scale > 0) scale *= 10;
    } else if (c === 46 && scale === 0) {
      scale = 1;
    } else {
      break;
    }
  }
  if (i === at + markerBytes.length) return NaN;
  return scale > 0 ? value / scale : value;
}
