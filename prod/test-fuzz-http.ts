/**
 * Seeded malformed HTTP requests for prod/fuzz.test.ts (WebSocket messages: prod/test-fuzz-ws.ts;
 * frames: prod/test-fuzz-ws-frames.ts). One seed gives the same cases on every run.
 *
 * Every HTTP case carries one fault Stadium's routes must answer with a JSON 4xx (a wrong method,
 * an unknown route, a bad query, body or header), maybe with noise around it that HTTP allows
 * (odd headers, chunked bodies, `Expect: 100-continue`), and says what a correct server may do:
 *
 * - `handler`: uWebSockets.js parses the request and a Stadium route must answer it.
 * - `parser`: the bytes are damaged below HTTP's meaning (see prod/test-fuzz-http-damage.ts). uWebSockets.js may
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
 * The faults are prod/test-fuzz-http-faults.ts', the damage prod/test-fuzz-http-damage.ts'.
 */
import { drawDamage, join } from './test-fuzz-http-damage.ts';
import { drawFault, noise } from './test-fuzz-http-faults.ts';
import type { Request } from './test-fuzz-http-faults.ts';
import type { FuzzRng } from './test-fuzz-rng.ts';

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
  const fault = drawFault(rng);
  const request = fault.request;
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
    const damage = drawDamage(rng, head, body);
    names.push(damage.name);
    bytes = damage.bytes;
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
