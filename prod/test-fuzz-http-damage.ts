/**
 * Damage below HTTP's meaning: each one leaves the request to uWebSockets.js' parser, which may
 * answer it itself (an HTML 400, 431 or 505, then it closes) or wait for bytes that never come. What
 * this build answers to each is the table in the README's "Behind a reverse proxy".
 */
import { tokenChars, visible } from './test-fuzz-rng.ts';
import type { FuzzRng } from './test-fuzz-rng.ts';

/** Damage below HTTP's meaning: each one leaves the request to uWebSockets.js' parser. */
const damages: { name: string; apply: (rng: FuzzRng, head: string, body: Buffer) => Buffer }[] = [
  { name: 'HTTP/1.0', apply: (_rng, head, body) => join(head.replace('HTTP/1.1', 'HTTP/1.0'), body) },
  {
    name: 'another version',
    apply: (rng, head, body) =>
      join(
        head.replace('HTTP/1.1', rng.pick(['HTTP/1.2', 'HTTP/2.0', 'http/1.1', 'HTTP/11', 'HTTP/1.1 x', ''])),
        body,
      ),
  },
  {
    name: 'a header line without a colon',
    apply: (rng, head, body) => join(insertLine(rng, head, rng.text(tokenChars, rng.between(1, 20))), body),
  },
  {
    name: 'obs-fold',
    apply: (rng, head, body) =>
      join(insertLine(rng, head, `${rng.pick([' ', '\t'])}${rng.text(visible, 10)}`, true), body),
  },
  {
    name: 'space before the colon',
    apply: (rng, head, body) => join(insertLine(rng, head, `X-Spaced : ${rng.text(visible, 5)}`), body),
  },
  {
    name: 'a control byte in a value',
    apply: (rng, head, body) =>
      join(
        insertLine(rng, head, `X-Ctl: a${String.fromCharCode(rng.pick([0, 1, 8, 11, 12, 27, 31]))}b`),
        body,
      ),
  },
  {
    name: 'no Host and no other header',
    apply: (_rng, head, body) => join(`${head.split('\r\n')[0]}\r\n\r\n`, body),
  },
  { name: 'bare LF line ends', apply: (_rng, head, body) => join(head.replaceAll('\r\n', '\n'), body) },
  {
    name: 'a broken request line',
    apply: (rng, head, body) => {
      const [line = '', ...rest] = head.split('\r\n');
      const [method = 'GET', target = '/'] = line.split(' ');
      const broken = rng.pick([
        `${method}${target}HTTP/1.1`,
        `${method}  ${target} HTTP/1.1`,
        `${method} http://stadium${target} HTTP/1.1`,
        `${method} * HTTP/1.1`,
        `${method} ${target.slice(1) || 'x'} HTTP/1.1`,
        `G\u00e9T ${target} HTTP/1.1`,
        `\r\n${line}`,
        `${method} ${target}`,
        rng.text(visible, rng.between(1, 50)),
      ]);
      return join([broken, ...rest].join('\r\n'), body);
    },
  },
  {
    name: 'a head over 4 KiB',
    apply: (rng, head, body) =>
      join(insertLine(rng, head, `X-Big: ${rng.text(visible, rng.between(4_100, 9_000))}`), body),
  },
  {
    name: 'about 100 headers',
    apply: (rng, head, body) => {
      let damaged = head;
      for (let i = rng.between(97, 140); i > 0; i--) damaged = insertLine(rng, damaged, `X-${i}: v`);
      return join(damaged, body);
    },
  },
  {
    name: 'a bad Content-Length',
    apply: (rng, head, body) =>
      join(
        insertLine(
          rng,
          head.replace(/\r\nContent-Length: [^\r]*/i, ''),
          `Content-Length: ${rng.pick(['abc', '-1', '99999999999999999999', '1, 2', '0x10', ' '])}`,
        ),
        body,
      ),
  },
  {
    name: 'Content-Length with Transfer-Encoding',
    apply: (rng, head, body) =>
      join(
        insertLine(
          rng,
          insertLine(rng, head.replace(/\r\nContent-Length: [^\r]*/i, ''), `Content-Length: ${body.length}`),
          'Transfer-Encoding: chunked',
        ),
        body,
      ),
  },
  {
    name: 'a bad chunk',
    apply: (rng, head, body) =>
      join(
        insertLine(rng, head.replace(/\r\nContent-Length: [^\r]*/i, ''), 'Transfer-Encoding: chunked'),
        Buffer.concat([
          Buffer.from(`${rng.pick(['zz', '-5', 'ffffffffffffffffff', ''])}\r\n`),
          body,
          Buffer.from('\r\n0\r\n\r\n'),
        ]),
      ),
  },
  {
    name: 'cut short in its head',
    apply: (rng, head) => Buffer.from(head.slice(0, rng.below(head.length - 4)), 'latin1'),
  },
  {
    name: 'flipped bytes',
    apply: (rng, head, body) => {
      const bytes = join(head, body);
      for (let i = rng.between(1, 4); i > 0; i--)
        bytes[rng.below(Math.min(bytes.length, head.length))] = rng.below(256);
      return bytes;
    },
  },
  { name: 'random bytes', apply: (rng) => rng.bytes(rng.between(1, 3_000)) },
];

/** One damage, drawn and done to the request: its name and the bytes that go out. */
export function drawDamage(rng: FuzzRng, head: string, body: Buffer): { name: string; bytes: Buffer } {
  const damage = rng.pick(damages);
  return { name: damage.name, bytes: damage.apply(rng, head, body) };
}

export function join(head: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Insert a header line at a random place after the request line (or, for obs-fold, after a header). */
function insertLine(rng: FuzzRng, head: string, line: string, afterHeader = false): string {
  const lines = head.slice(0, -4).split('\r\n');
  const at = afterHeader && lines.length > 1 ? rng.between(2, lines.length) : rng.between(1, lines.length);
  lines.splice(at, 0, line);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
