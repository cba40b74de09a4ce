// Goal: the raw WebSocket load client reads server frames correctly however the bytes are split,
// writes frames a server accepts, and reads the publisher's stamp as the string reader does.
// Method: feed the same frames whole and split at every offset; the frames seen must not change.
import { describe, expect, it } from 'vitest';
import { stampOf, stampPayload } from './sse-parser.ts';
import { clientFrame, FrameReader, opcodes, stampInBytes } from './ws-reader.ts';

/** A server frame: unmasked, final. */
function serverFrame(opcode: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'latin1');
  const n = body.length;
  const head =
    n < 126
      ? Buffer.from([0x80 | opcode, n])
      : n < 65_536
        ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigEndian64(n)]);
  return Buffer.concat([head, body]);
}

function bigEndian64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function framesOf(pieces: Buffer[]): [number, string][] {
  const seen: [number, string][] = [];
  const reader = new FrameReader((opcode, data, start, end) =>
    seen.push([opcode, data.toString('latin1', start, end)]),
  );
  for (const piece of pieces) reader.push(piece);
  return seen;
}

describe('FrameReader', () => {
  const frames: [number, string][] = [
    [opcodes.text, '{"type":"subscribed","topic":"t"}'],
    [opcodes.text, ''],
    [opcodes.ping, 'p'],
    [opcodes.text, 'x'.repeat(300)],
    [opcodes.binary, 'y'.repeat(70_000)],
    [opcodes.text, `{"type":"event","payload":"${stampPayload(1795300000123.456, 7)}"}`],
  ];
  const stream = Buffer.concat(frames.map(([op, text]) => serverFrame(op, text)));

  it('reads every frame length form (7-bit, 16-bit, 64-bit) from one piece', () => {
    expect(framesOf([stream])).toEqual(frames);
  });

  it('gives the same frames however the stream is split', () => {
    // Every split point of the small frames, and a stride through the 70,000-byte one.
    for (let cut = 1; cut < stream.length; cut += cut < 400 || cut > stream.length - 200 ? 1 : 997) {
      expect(framesOf([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(frames);
    }
  });

  it('refuses what a server must not send', () => {
    const masked = Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x41]);
    expect(() => framesOf([masked])).toThrow(/masked frame/);
    const fragment = Buffer.from([0x01, 0x01, 0x41]);
    expect(() => framesOf([fragment])).toThrow(/fragmented/);
  });
});

describe('clientFrame', () => {
  it('masks with a zero key and encodes each length form', () => {
    for (const n of [0, 125, 126, 65_535, 65_536]) {
      const frame = clientFrame(opcodes.text, Buffer.alloc(n, 0x61));
      const extended = n < 126 ? 0 : n < 65_536 ? 2 : 8;
      expect(frame[0]).toBe(0x81);
      expect(frame[1]! & 0x80).toBe(0x80);
      const length =
        extended === 0
          ? frame[1]! & 0x7f
          : extended === 2
            ? frame.readUInt16BE(2)
            : Number(frame.readBigUInt64BE(2));
      expect(length).toBe(n);
      expect(frame.subarray(2 + extended, 6 + extended)).toEqual(Buffer.alloc(4));
      expect(frame.length).toBe(6 + extended + n);
    }
  });
});

describe('stampInBytes', () => {
  it('reads the same stamp as the string reader, or NaN when there is none', () => {
    for (const text of [
      `{"payload":"${stampPayload(1795300000123.456, 12)}"}`,
      `data: ${stampPayload(42, 1)}`,
      'no stamp here',
      'bench:',
      'bench:x',
    ]) {
      const bytes = Buffer.from(`..${text}..`, 'latin1');
      const fromBytes = stampInBytes(bytes, 2, bytes.length - 2);
      expect(Number.isNaN(fromBytes) ? 'NaN' : fromBytes).toEqual(
        Number.isNaN(stampOf(text)) ? 'NaN' : stampOf(text),
      );
    }
  });

  it('does not read a stamp from beyond the frame', () => {
    const bytes = Buffer.from(`{"a":1}${stampPayload(5, 1)}`, 'latin1');
    expect(stampInBytes(bytes, 0, 7)).toBeNaN();
  });
});
