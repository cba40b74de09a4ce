/**
 * Seeded WebSocket messages for prod/fuzz.test.ts, each wrong in exactly one way: it gets exactly
 * one reply, an `error` (4xx) or a `notice`; past twice the message limit uWebSockets.js drops the
 * socket instead.
 */
import { invalidEventId, invalidTopic, nestedPayload, visible } from './test-fuzz-rng.ts';
import type { FuzzRng } from './test-fuzz-rng.ts';

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
          { type: 'publish', topic: 't' },
          { type: 'publish', topic: 't', payload: nestedPayload(rng, rng.between(65, 500)) },
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
