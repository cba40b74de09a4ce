/**
 * Seeded generators of malformed input for prod/fuzz.test.ts: HTTP requests, WebSocket messages
 * and raw WebSocket frames. One seed gives the same cases on every run.
 *
 * Every HTTP case carries one fault Stadium's routes must answer with a JSON 4xx (a wrong method,
 * an unknown route, a bad query, body or header), maybe with noise around it that HTTP allows
 * (odd headers, chunked bodies, `Expect: 100-continue`), and says what a correct server may do:
 *
 * - `handler`: uWebSockets.js parses the request and a Stadium route must answer it.
 * - `parser`: the bytes are damaged below HTTP's meaning (see `damages`). uWebSockets.js may
 *   reject them itself, with no handler run: an HTML 400 (no Host, a bad Content-Length or chunk,
 *   Content-Length with Transfer-Encoding), 431 (a head over 4 KiB or near 100 headers) or 505 (a
 *   request line it cannot read, HTTP/1.0 included), then it closes; or it waits for bytes that
 *   never come (a header line without a colon, obs-fold, a control byte, bare LF line ends, a
 *   request line without spaces) until its 10-second idle timeout closes the connection. If a
 *   route does answer, it is judged as for `handler`.
 *   Also here: a request line that arrives in two reads (this build answers 505: uWebSockets issue
 *   #1776), and a Content-Length shorter than the body (the rest is parsed as a next request,
 *   and when the parser refuses that, its error page can come in place of the route's answer).
 * - `incomplete`: the request promises more body than it sends, so the route may wait for it.
 *
 * Every WebSocket message is wrong in one way and gets exactly one reply, an `error` (4xx) or a
 * `notice`; past twice the message limit uWebSockets.js drops the socket instead. Frames that break
 * RFC 6455 are uWebSockets.js' to refuse (it closes, or waits): whatever comes back must be JSON
 * text, close, ping or pong frames.
 */
import seedrandom from 'seedrandom';

export class FuzzRng {
  private readonly next: () => number;

  constructor(seed: string) {
    this.next = seedrandom.alea(seed);
  }

  /** 0 to n - 1. */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** min to max, both included. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  oneIn(n: number): boolean {
    return this.below(n) === 0;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.below(items.length)] as T;
  }

  text(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.below(alphabet.length)];
    return out;
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.below(256);
    return out;
  }
}

const alphanumeric = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** RFC 9110 token characters: methods and header names. */
const tokenChars = `${alphanumeric}!#$%&'*+-.^_\`|~`;
/** Visible ASCII: header values (with spaces inside). */
const visible = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
/** Characters of a topic that is valid. */
const topicChars = `${alphanumeric}_.:-/`;
/** uWebSockets.js answers 431 past a 4 KiB head; a head this close to it is left to the parser. */
const headBytesSafe = 3_900;

export type HttpExpect = 'handler' | 'parser' | 'incomplete';

export interface HttpCase {
  /** The fault, the noise and the damage, for failure messages. */
  name: string;
  bytes: Buffer;
  /** A HEAD request: its answer has no body. */
  head: boolean;
  /** A batch publish: answered `200 {"results": [...]}` with a 4xx for each event. */
  batch: boolean;
  expect: HttpExpect;
  /** Offsets where the bytes are split into separate writes. */
  splits: number[];
}

interface Request {
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer | null;
  batch?: boolean;
  /** The route answers before the body is read, and closes: the request goes out in one write. */
  answersEarly?: boolean;
}

/** The routes of a role-all server and the methods each takes (GET /v1/ws only with an upgrade). */
const routes: { target: string; allowed: readonly string[] }[] = [
  { target: '/healthz', allowed: ['GET', 'HEAD'] },
  { target: '/metrics', allowed: ['GET', 'HEAD'] },
  { target: '/', allowed: ['GET', 'HEAD'] },
  { target: '/v1/publish', allowed: ['POST', 'OPTIONS'] },
  { target: '/v1/stream?topic=t', allowed: ['GET'] },
  { target: '/v1/ws', allowed: [] },
  { target: '/internal/message', allowed: [] },
];
const knownPaths = new Set([
  '/',
  '/healthz',
  '/metrics',
  '/v1/publish',
  '/v1/stream',
  '/v1/ws',
  '/internal/message',
]);
const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND'];

function randomMethod(rng: FuzzRng): string {
  if (rng.oneIn(4)) return rng.pick(['get', 'post', 'Get', 'FUZZ', 'M-SEARCH', 'PRI']);
  if (rng.oneIn(5)) return rng.text(tokenChars, rng.between(1, 20));
  return rng.pick(methods);
}

function invalidTopic(rng: FuzzRng): string {
  switch (rng.below(6)) {
    case 0:
      return '';
    case 1:
      return rng.text(topicChars, rng.between(129, 400));
    case 2:
      return `${rng.text(topicChars, rng.between(0, 5))} ${rng.text(topicChars, rng.between(0, 5))}`;
    case 3:
      return `likes${rng.pick(['€', 'é', '\u0000', '\n', '?', '#', '&', '%', '"', '<'])}`;
    case 4:
      return rng.text(visible.replace(/[A-Za-z0-9_.:\-/]/g, ''), rng.between(1, 10));
    default:
      return rng.text(`${topicChars} !*()`, rng.between(1, 20)).replace(/^[A-Za-z0-9_.:\-/]+$/, '$&!');
  }
}

function invalidEventId(rng: FuzzRng): string {
  switch (rng.below(3)) {
    case 0:
      return rng.text(visible, rng.between(129, 300));
    case 1:
      return `${rng.text(visible, rng.between(1, 10))} ${rng.text(visible, rng.between(1, 10))}`;
    default:
      return `${rng.text(visible, rng.between(1, 5))}\u00e9`;
  }
}

const faults: { name: string; make: (rng: FuzzRng) => Request }[] = [
  {
    name: 'wrong method',
    make: (rng) => {
      const route = rng.pick(routes);
      let method = randomMethod(rng);
      while (route.allowed.includes(method)) method = randomMethod(rng);
      return { method, target: route.target, headers: [], body: null };
    },
  },
  {
    name: 'unknown route',
    make: (rng) => {
      const prefix = rng.pick([
        '/',
        '/v1/',
        '/v2/',
        '/internal/',
        '/healthz/',
        '/v1/stream/',
        '/%2e%2e/',
        '//',
      ]);
      let path = `${prefix}${rng.text(`${alphanumeric}%._~-!$&'()*+,;=:@\u00e9`, rng.between(1, 40))}`;
      if (knownPaths.has(path)) path += 'x';
      const query = rng.oneIn(3) ? `?${rng.text(`${alphanumeric}=&%`, rng.between(0, 30))}` : '';
      return {
        method: rng.pick(['GET', 'POST', 'HEAD', 'PUT', 'DELETE']),
        target: `${path}${query}`,
        headers: [],
        body: null,
      };
    },
  },
  {
    name: 'bad stream query',
    make: (rng) => {
      const params: string[] = [];
      switch (rng.below(6)) {
        case 0:
          // No topic at all.
          break;
        case 1:
          params.push(`topic=${encodeURIComponent(invalidTopic(rng))}`);
          break;
        case 2:
          params.push(
            rng.pick([
              'topic=%ZZ',
              'topic=%E0%A4%A',
              'topic=%',
              'topic=%00',
              'topic',
              'topic=a,,b',
              'topic=,',
            ]),
          );
          break;
        case 3: {
          // Too many topics, as repeated parameters or one comma list.
          const count = rng.between(65, 300);
          const topics = Array.from({ length: count }, (_, i) => `t${i}`);
          params.push(rng.oneIn(2) ? topics.map((t) => `topic=${t}`).join('&') : `topic=${topics.join(',')}`);
          break;
        }
        case 4:
          params.push('topic=t', `lastEventId=${encodeURIComponent(invalidEventId(rng))}`);
          break;
        default:
          params.push(`topic=t&topic=${encodeURIComponent(invalidTopic(rng))}`);
      }
      // Parameters the route ignores; none of them is a topic, so the fault above stands.
      for (let i = rng.below(3); i > 0; i--) params.push(rng.pick(['token=garbage', 'a=b', '&&', '=', 'x']));
      return { method: 'GET', target: `/v1/stream?${params.join('&')}`, headers: [], body: null };
    },
  },
  {
    name: 'bad Last-Event-ID header',
    make: (rng) => ({
      method: 'GET',
      target: '/v1/stream?topic=t',
      headers: [['Last-Event-ID', invalidEventId(rng).replace(/[^\x20-\x7e]/g, ' x ')]],
      body: null,
    }),
  },
  {
    name: 'bad publish body',
    make: (rng) => {
      const { body, batch } = badPublishBody(rng);
      return {
        method: 'POST',
        target: '/v1/publish',
        headers: [
          [
            'Content-Type',
            rng.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'garbage']),
          ],
        ],
        body,
        batch,
      };
    },
  },
  {
    name: 'publish body over the limit',
    make: (rng) => ({
      method: 'POST',
      target: '/v1/publish',
      headers: [['Content-Length', String(rng.between(1_000_000, 99_999_999))]],
      body: Buffer.from(`{"topic":"t","payload":"${rng.text(alphanumeric, rng.between(0, 200))}`),
      answersEarly: true,
    }),
  },
  {
    name: 'internal message without its token',
    make: (rng) => {
      const auth = rng.pick([
        null,
        'Bearer ',
        `Bearer ${rng.text(tokenChars, rng.between(1, 64))}`,
        rng.text(visible, 20),
      ]);
      const body = JSON.stringify({
        source: 'http://attacker',
        message: { type: 'deliver', event: { id: 'x' } },
      });
      return {
        method: 'POST',
        target: '/internal/message',
        headers: auth === null || auth.trim() === '' ? [] : [['Authorization', auth]],
        body: Buffer.from(rng.oneIn(3) ? rng.text(visible, 50) : body),
      };
    },
  },
  {
    name: 'GET /v1/ws without an upgrade',
    make: (rng) => {
      const headers: [string, string][] = [];
      if (rng.oneIn(2)) headers.push(['Upgrade', rng.pick(['websocket', 'WebSocket', 'h2c', 'garbage'])]);
      if (rng.oneIn(2)) headers.push(['Connection', rng.pick(['Upgrade', 'keep-alive, Upgrade', 'close'])]);
      if (rng.oneIn(2)) headers.push(['Sec-WebSocket-Version', rng.pick(['13', '8', 'x'])]);
      // Any key of 24 characters upgrades: these are shorter or longer.
      if (rng.oneIn(2))
        headers.push(['Sec-WebSocket-Key', rng.text(`${alphanumeric}+/=`, rng.pick([1, 16, 23, 25, 40]))]);
      return { method: 'GET', target: `/v1/ws${rng.oneIn(3) ? '?token=x' : ''}`, headers, body: null };
    },
  },
];

/** A body `POST /v1/publish` must refuse: never a valid event, never a batch with one. */
function badPublishBody(rng: FuzzRng): { body: Buffer; batch: boolean } {
  const text = (value: string): { body: Buffer; batch: boolean } => ({
    body: Buffer.from(value),
    batch: false,
  });
  const badEvent = (): unknown => {
    switch (rng.below(8)) {
      case 0:
        return { topic: invalidTopic(rng), payload: 'x' };
      case 1:
        return { topic: rng.pick([5, null, true, [], {}, ['t']]), payload: 'x' };
      case 2:
        return { topic: 't', payload: rng.pick([5, null, true, [], { a: 1 }]) };
      case 3:
        return { topic: 't' };
      case 4:
        return { topic: 't', payload: 'x', id: rng.pick([5, '', '~server-owned', invalidEventId(rng)]) };
      case 5:
        return { topic: 't', payload: 'x'.repeat(rng.between(1025, 4000)) };
      case 6:
        return rng.pick([5, 'x', null, true, []]);
      default:
        return { payload: 'x', topic: 't', extra: { nested: [1, 2, 3] }, id: { not: 'a string' } };
    }
  };
  switch (rng.below(9)) {
    case 0: {
      const valid = JSON.stringify({ topic: 't', payload: 'hello', id: 'fuzz-1' });
      return text(valid.slice(0, rng.below(valid.length)));
    }
    case 1:
      return { body: rng.bytes(rng.between(1, 300)), batch: false };
    case 2:
      return text(
        rng.pick(['', ' ', 'null', '5', '"x"', 'true', '{}', '[]', '{"topic":"t","payload":"x"}x', 'NaN']),
      );
    case 3:
      return text(JSON.stringify(badEvent()));
    case 4: {
      const depth = rng.between(100, 5_000);
      // Nested arrays are a batch of one event that is not an object.
      if (rng.oneIn(2)) return { body: Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`), batch: true };
      return text(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
    }
    case 5: {
      const events = Array.from({ length: rng.between(1, 30) }, badEvent);
      return { body: Buffer.from(JSON.stringify(events)), batch: true };
    }
    case 6:
      // Over the batch limit, refused as a whole (with events small enough to stay under the body limit).
      return text(JSON.stringify(Array.from({ length: rng.between(1_001, 1_500) }, () => 0)));
    case 7:
      return text(`{"topic":"t","topic":${JSON.stringify(invalidTopic(rng))},"payload":"x"}`);
    default:
      return text(`{"topic":"t","payload":"\\u${rng.text('0123456789abcdefxyz', 3)}"}`);
  }
}

/** Headers HTTP allows that no route cares about, or cares about the same way. */
function noise(rng: FuzzRng): [string, string][] {
  const headers: [string, string][] = [];
  for (let i = rng.below(8); i > 0; i--) {
    switch (rng.below(8)) {
      case 0:
        headers.push(['Host', rng.text(visible, rng.between(1, 30))]);
        break;
      case 1:
        headers.push(['Cookie', rng.text(visible, rng.between(1, 2_000))]);
        break;
      case 2:
        headers.push(['Authorization', `Bearer ${rng.text(visible, rng.between(1, 300))}`]);
        break;
      case 3:
        headers.push([
          'Accept',
          rng.pick(['*/*', 'text/event-stream', 'application/json', rng.text(visible, 10)]),
        ]);
        break;
      case 4:
        headers.push(['Connection', rng.pick(['keep-alive', 'close', 'Upgrade', rng.text(tokenChars, 8)])]);
        break;
      case 5:
        headers.push([
          rng.text(tokenChars, rng.between(1, 30)).toUpperCase(),
          `  ${rng.text(visible, 5)}\t${rng.text(visible, 5)}  `,
        ]);
        break;
      default:
        headers.push([
          rng.text(tokenChars, rng.between(1, 30)),
          rng.text(`${visible}  \t`, rng.between(1, 200)).trim() || 'v',
        ]);
    }
  }
  return headers;
}

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

function join(head: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Insert a header line at a random place after the request line (or, for obs-fold, after a header). */
function insertLine(rng: FuzzRng, head: string, line: string, afterHeader = false): string {
  const lines = head.slice(0, -4).split('\r\n');
  const at = afterHeader && lines.length > 1 ? rng.between(2, lines.length) : rng.between(1, lines.length);
  lines.splice(at, 0, line);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function serialize(request: Request, chunked: boolean): { head: string; body: Buffer } {
  const headers: [string, string][] = [['Host', 'stadium'], ...request.headers];
  let body = request.body ?? Buffer.alloc(0);
  if (request.body !== null && !headers.some(([name]) => name.toLowerCase() === 'content-length')) {
    if (chunked) {
      headers.push(['Transfer-Encoding', 'chunked']);
      const parts: Buffer[] = [];
      for (let at = 0; at < body.length;) {
        const size = Math.min(body.length - at, 1 + Math.floor(body.length / 3));
        parts.push(
          Buffer.from(`${size.toString(16)}\r\n`),
          body.subarray(at, at + size),
          Buffer.from('\r\n'),
        );
        at += size;
      }
      body = Buffer.concat([...parts, Buffer.from('0\r\n\r\n')]);
    } else {
      headers.push(['Content-Length', String(body.length)]);
    }
  }
  const head = `${request.method} ${request.target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return { head, body };
}

export function httpCase(rng: FuzzRng): HttpCase {
  const fault = rng.pick(faults);
  const request = fault.make(rng);
  const names = [fault.name];
  if (rng.oneIn(2)) {
    request.headers.push(...noise(rng));
    names.push('noise');
  }
  if (rng.oneIn(6)) {
    request.headers.push(['Expect', '100-continue']);
    names.push('Expect: 100-continue');
  }
  const chunked = request.body !== null && request.body.length > 0 && rng.oneIn(4);
  if (chunked) names.push('chunked');
  const { head, body } = serialize(request, chunked);
  let expect: HttpExpect = Buffer.byteLength(head, 'latin1') > headBytesSafe ? 'parser' : 'handler';
  let bytes = join(head, body);
  if (rng.oneIn(3)) {
    const damage = rng.pick(damages);
    names.push(damage.name);
    bytes = damage.apply(rng, head, body);
    expect = 'parser';
  } else if (request.body !== null && !chunked && rng.oneIn(5)) {
    // A Content-Length that does not match the body.
    const sent = rng.oneIn(2) ? body.length + rng.between(1, 1_000) : rng.below(body.length + 1);
    bytes = join(head.replace(/\r\nContent-Length: \d+/, `\r\nContent-Length: ${sent}`), body);
    names.push(sent > body.length ? 'Content-Length too long' : 'Content-Length too short');
    // Too long: the route waits for the rest. Too short: the rest of the body is read as the next
    // request, which the parser may refuse, and this build then loses the route's first answer.
    if (sent < body.length) expect = 'parser';
    else if (expect === 'handler') expect = 'incomplete';
  }
  const splits =
    request.answersEarly !== true && rng.oneIn(3)
      ? [rng.below(bytes.length), rng.below(bytes.length)].sort((a, b) => a - b)
      : [];
  // This build of uWebSockets.js answers 505 to a request line that arrives in two reads, cut
  // after its first space (uWebSockets issue #1776, fixed upstream).
  const lineStart = bytes.indexOf(' ');
  const lineEnd = bytes.indexOf('\r\n');
  if (splits.some((at) => at > lineStart && at <= lineEnd + 1)) {
    names.push('request line in two reads');
    expect = 'parser';
  }
  return {
    name: names.join(' + '),
    bytes,
    head: request.method === 'HEAD',
    batch: request.batch === true,
    expect,
    splits,
  };
}

// ---------------------------------------------------------------- WebSocket messages

export interface WsMessageCase {
  name: string;
  data: string | Buffer;
  binary: boolean;
  /** `reply`: exactly one `error` or `notice` comes back; `close`: uWebSockets.js drops the socket. */
  expect: 'reply' | 'close';
}

/**
 * A message a WebSocket client may send that is wrong in exactly one way. `messageBytesMax` is the
 * server's message limit (`--payload-limit` + 4 KiB); uWebSockets.js cuts off frames over twice it.
 */
export function wsMessageCase(rng: FuzzRng, messageBytesMax: number): WsMessageCase {
  const json = (name: string, value: unknown): WsMessageCase => ({
    name,
    data: JSON.stringify(value),
    binary: rng.oneIn(5),
    expect: 'reply',
  });
  const topicsValue = (): unknown =>
    rng.pick([
      5,
      null,
      [],
      {},
      [1, 2],
      [invalidTopic(rng)],
      ['t', invalidTopic(rng)],
      Array.from({ length: rng.between(65, 500) }, (_, i) => `t${i}`),
    ]);
  switch (rng.below(11)) {
    case 0: {
      const valid = JSON.stringify({ type: 'subscribe', topic: 't' });
      return {
        name: 'malformed JSON',
        data: valid.slice(0, rng.below(valid.length)),
        binary: false,
        expect: 'reply',
      };
    }
    case 1:
      return { name: 'random bytes', data: rng.bytes(rng.between(1, 500)), binary: true, expect: 'reply' };
    case 2:
      return json('not an object', rng.pick([5, 'subscribe', null, true, [], [{ type: 'ping' }]]));
    case 3:
      return json(
        'no or unknown type',
        rng.pick([
          {},
          { type: 5 },
          { type: null },
          { type: 'SUBSCRIBE' },
          { type: rng.text(visible, 12) },
          { topic: 't' },
        ]),
      );
    case 4:
      return json(
        'bad topics',
        rng.oneIn(2)
          ? {
              type: rng.pick(['subscribe', 'unsubscribe', 'resume']),
              topics: topicsValue(),
              lastEventId: 'e-1',
            }
          : { type: 'subscribe', topic: invalidTopic(rng) },
      );
    case 5:
      return json('bad resume id', {
        type: 'resume',
        topics: ['t'],
        lastEventId: rng.pick([5, null, '', invalidEventId(rng)]),
      });
    case 6:
      return json(
        'bad publish',
        rng.pick([
          { type: 'publish', topic: invalidTopic(rng), payload: 'x' },
          { type: 'publish', topic: 't', payload: rng.pick([5, null, {}, []]) },
          { type: 'publish', topic: 't', payload: 'x'.repeat(rng.between(1_025, messageBytesMax - 100)) },
        ]),
      );
    case 7:
      return json('bad refresh', { type: 'refresh', token: rng.pick([undefined, '', 5, 'not-a-jwt']) });
    case 8:
      return {
        name: 'over the message limit',
        data: `{"type":"ping","pad":"${'x'.repeat(rng.between(messageBytesMax, 2 * messageBytesMax - 100))}"}`,
        binary: rng.oneIn(2),
        expect: 'reply',
      };
    case 9:
      return {
        name: 'over twice the message limit',
        data: 'x'.repeat(rng.between(2 * messageBytesMax + 1, 4 * messageBytesMax)),
        binary: rng.oneIn(2),
        expect: 'close',
      };
    default:
      return {
        name: 'duplicate keys and __proto__',
        data: rng.pick([
          '{"type":"ping","type":"dance"}',
          '{"__proto__":{"type":"ping"}}',
          '{"type":"subscribe","topics":["t"],"topics":5}',
        ]),
        binary: false,
        expect: 'reply',
      };
  }
}

// ---------------------------------------------------------------- WebSocket frames

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
