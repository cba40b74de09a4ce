/**
 * Raw WebSocket frames for prod/fuzz.test.ts: `wsFrame` builds one as a client sends it, and
 * `wsFrameCase` draws frames that break RFC 6455 in one way each. They are uWebSockets.js' to refuse
 * (it closes, or waits): whatever comes back must be JSON text, close, ping or pong frames.
 */
import { visible } from './test-fuzz-rng.ts';
import type { FuzzRng } from './test-fuzz-rng.ts';

export interface WsFrameCase {
  name: string;
  bytes: Buffer;
}

/** One frame as a client sends it (masked unless told otherwise). */
export function wsFrame(
  rng: FuzzRng,
  {
    fin = true,
    rsv = 0,
    opcode,
    payload,
    masked = true,
    length = payload.length,
  }: { fin?: boolean; rsv?: number; opcode: number; payload: Buffer; masked?: boolean; length?: number },
): Buffer {
  const head: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const mask = masked ? 0x80 : 0;
  if (length < 126) head.push(mask | length);
  else if (length < 65_536) head.push(mask | 126, length >> 8, length & 0xff);
  else {
    head.push(mask | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(...big);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = rng.bytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ (key[i % 4] as number)));
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** Frames that break the WebSocket protocol (RFC 6455) in one way each. */
export function wsFrameCase(rng: FuzzRng): WsFrameCase {
  const text = (value: string): Buffer => Buffer.from(value);
  const garbage = (): Buffer => text(rng.pick(['{nope', '[]', '{"type":"dance"}', rng.text(visible, 20)]));
  const frame = (options: Parameters<typeof wsFrame>[1]): Buffer => wsFrame(rng, options);
  switch (rng.below(12)) {
    case 0:
      return { name: 'unmasked frame', bytes: frame({ opcode: 1, payload: garbage(), masked: false }) };
    case 1:
      return {
        name: 'reserved bits',
        bytes: frame({ opcode: 1, payload: garbage(), rsv: rng.between(1, 7) }),
      };
    case 2:
      return {
        name: 'reserved opcode',
        bytes: frame({ opcode: rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), payload: garbage() }),
      };
    case 3:
      return { name: 'continuation without a start', bytes: frame({ opcode: 0, payload: garbage() }) };
    case 4:
      return {
        name: 'control frame over 125 bytes',
        bytes: frame({ opcode: rng.pick([8, 9, 10]), payload: rng.bytes(rng.between(126, 400)) }),
      };
    case 5:
      return {
        name: 'fragmented control frame',
        bytes: frame({ opcode: 9, payload: text('ping'), fin: false }),
      };
    case 6:
      return {
        name: 'invalid UTF-8 text',
        bytes: frame({ opcode: 1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]) }),
      };
    case 7:
      return {
        name: 'a length that lies',
        bytes: frame({
          opcode: 1,
          payload: garbage(),
          length: rng.pick([2 ** 32 + 5, 2 ** 53 - 1, 70_000, 200]),
        }),
      };
    case 8: {
      const payload = rng.pick([
        Buffer.from([0x03]),
        Buffer.from([0x00, 0x00]),
        Buffer.from([0x03, 0xe7]),
        Buffer.from([0x03, 0xed]),
        Buffer.from([0x13, 0x88]),
        Buffer.from([0x03, 0xe8, 0xff, 0xfe]),
      ]);
      return { name: 'bad close frame', bytes: frame({ opcode: 8, payload }) };
    }
    case 9: {
      // A fragmented message with a ping in between (which is allowed), carrying bad JSON.
      const message = garbage();
      const cut = rng.below(message.length);
      return {
        name: 'fragmented bad message',
        bytes: Buffer.concat([
          frame({ opcode: 1, payload: message.subarray(0, cut), fin: false }),
          frame({ opcode: 9, payload: text('p') }),
          frame({ opcode: 0, payload: message.subarray(cut) }),
        ]),
      };
    }
    case 10:
      return {
        name: 'bad message, then a text frame inside an unfinished one',
        bytes: Buffer.concat([
          frame({ opcode: 1, payload: garbage() }),
          frame({ opcode: 1, payload: garbage(), fin: false }),
          frame({ opcode: 1, payload: garbage() }),
        ]),
      };
    default:
      return { name: 'random bytes', bytes: rng.bytes(rng.between(1, 300)) };
  }
}
