/**
 * The faults an HTTP fuzz case carries, one each: a wrong method, an unknown route, a bad stream
 * query or `Last-Event-ID`, a bad or oversized publish body, an internal message without its token,
 * `GET /v1/ws` without an upgrade. Each is one Stadium's routes must answer with a JSON 4xx (a batch
 * of bad events: `200` with a 4xx for each). And the noise HTTP allows around them: headers no route
 * cares about, or cares about the same way.
 */
import {
  alphanumeric,
  invalidEventId,
  invalidTopic,
  nestedPayload,
  tokenChars,
  visible,
} from './test-fuzz-rng.ts';
import type { FuzzRng } from './test-fuzz-rng.ts';

export interface Request {
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

/** One fault, drawn: its name and the request that carries it. */
export function drawFault(rng: FuzzRng): { name: string; request: Request } {
  const fault = rng.pick(faults);
  return { name: fault.name, request: fault.make(rng) };
}

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
        // Any JSON value is a payload; one nested deeper than the core allows is not.
        return { topic: 't', payload: nestedPayload(rng, rng.between(65, 300)) };
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
export function noise(rng: FuzzRng): [string, string][] {
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
