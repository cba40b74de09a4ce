// Goal: malformed requests become a 4xx naming the problem, never a throw; good ones parse to the
// core's vocabulary. Method: feed the parsers good and bad inputs.
import { describe, expect, it } from 'vitest';
import {
  bearerToken,
  isHttpError,
  parseClientMessage,
  parseInternalMessage,
  parsePublishBody,
  parseStreamQuery,
  publishErrorStatus,
} from './http-input.ts';
import type { HttpError } from './http-input.ts';

const code = (value: unknown): string | null => (isHttpError(value) ? `${value.status} ${value.code}` : null);

describe('publish body', () => {
  it('takes topic, payload and an optional id', () => {
    expect(parsePublishBody('{"topic":"likes","payload":"+1"}')).toEqual({
      batch: false,
      request: { topic: 'likes', payload: '+1' },
    });
    expect(parsePublishBody('{"topic":"likes","payload":"+1","id":"retry-1"}')).toEqual({
      batch: false,
      request: { topic: 'likes', payload: '+1', id: 'retry-1' },
    });
  });

  it('takes any JSON value as the payload, as it is: the core judges its depth and size', () => {
    for (const payload of [{ n: 1, tags: ['a'] }, [1, [2]], 3.5, 0, true, false, null, '', '{"n":1}']) {
      const body = JSON.stringify({ topic: 't', payload });
      expect(parsePublishBody(body), body).toEqual({ batch: false, request: { topic: 't', payload } });
      expect(parseClientMessage(JSON.stringify({ type: 'publish', topic: 't', payload }), 8)).toEqual({
        type: 'publish',
        topic: 't',
        payload,
        token: null,
      });
    }
  });

  it('takes a batch as an array, and checks it event by event', () => {
    const parsed = parsePublishBody('[{"topic":"a","payload":"1"},{"topic":"b c","payload":"2"},7]');
    expect(parsed).toMatchObject({ batch: true });
    const items = (parsed as { items: unknown[] }).items;
    expect(items[0]).toEqual({ topic: 'a', payload: '1' });
    expect(items.slice(1).map(code)).toEqual(['400 bad-topic', '400 bad-request']);
  });

  it.each([
    ['{"topic":', '400 malformed-json'],
    ['7', '400 bad-request'],
    ['[]', '400 bad-request'],
    [JSON.stringify(Array.from({ length: 1_001 }, () => ({ topic: 't', payload: 'x' }))), '400 bad-request'],
    ['{"topic":"a b","payload":"x"}', '400 bad-topic'],
    ['{"payload":"x"}', '400 bad-topic'],
    ['{"topic":"t"}', '400 bad-payload'],
    ['{"topic":"t","payload":"x","id":"has space"}', '400 bad-id'],
  ])('%s -> %s', (body, expected) => {
    expect(code(parsePublishBody(body))).toBe(expected);
  });

  it('maps publish error codes to statuses', () => {
    expect(publishErrorStatus('bad-topic')).toBe(400);
    expect(publishErrorStatus('bad-id')).toBe(400);
    expect(publishErrorStatus('bad-payload')).toBe(400);
    expect(publishErrorStatus('payload-too-large')).toBe(413);
    expect(publishErrorStatus('store-unavailable')).toBe(503);
    expect(publishErrorStatus('overloaded')).toBe(503);
  });
});

describe('stream query', () => {
  it('repeated and comma-separated topics, Last-Event-ID header over the query, token', () => {
    expect(parseStreamQuery('topic=a&topic=b,c&token=jwt', '', 64)).toEqual({
      topics: ['a', 'b', 'c'],
      lastEventId: null,
      token: 'jwt',
      occupancy: false,
    });
    expect(parseStreamQuery('topic=a&lastEventId=q-1', '', 64)).toMatchObject({ lastEventId: 'q-1' });
    expect(parseStreamQuery('topic=a&lastEventId=q-1', 'h-2', 64)).toMatchObject({ lastEventId: 'h-2' });
  });

  it('rejects no topic, bad topics, too many topics and bad ids', () => {
    expect(code(parseStreamQuery('', '', 64))).toBe('400 missing-topic');
    expect(code(parseStreamQuery('topic=a%20b', '', 64))).toBe('400 bad-topic');
    expect(code(parseStreamQuery('topic=a&topic=b&topic=c', '', 2))).toBe('400 too-many-topics');
    expect(code(parseStreamQuery('topic=a', 'bad id', 64))).toBe('400 bad-id');
  });

  it('occupancy=1 or true asks for viewer counts, 0 or false or nothing does not, anything else is refused', () => {
    for (const [query, wanted] of [
      ['topic=a&occupancy=1', true],
      ['topic=a&occupancy=true', true],
      ['topic=a&occupancy=0', false],
      ['topic=a&occupancy=false', false],
      ['topic=a', false],
    ] as const)
      expect(parseStreamQuery(query, '', 64), query).toMatchObject({ occupancy: wanted });
    for (const query of [
      'topic=a&occupancy=yes',
      'topic=a&occupancy=',
      'topic=a&occupancy=constructor',
      'topic=a&occupancy=1&occupancy=1',
    ]) {
      const refused = parseStreamQuery(query, '', 64);
      expect(code(refused), query).toBe('400 bad-request');
      expect((refused as HttpError).message, query).toMatch(/^occupancy must be given once, as 1 or 0/);
    }
  });
});

describe('WebSocket client messages', () => {
  it('parses each message type', () => {
    expect(parseClientMessage('{"type":"subscribe","topic":"a"}', 8)).toEqual({
      type: 'subscribe',
      topics: ['a'],
      occupancy: false,
    });
    expect(parseClientMessage('{"type":"subscribe","topic":"a","occupancy":true}', 8)).toEqual({
      type: 'subscribe',
      topics: ['a'],
      occupancy: true,
    });
    expect(parseClientMessage('{"type":"unsubscribe","topics":["a","b"]}', 8)).toEqual({
      type: 'unsubscribe',
      topics: ['a', 'b'],
    });
    expect(parseClientMessage('{"type":"resume","topics":["a"],"lastEventId":"e-1"}', 8)).toEqual({
      type: 'resume',
      topics: ['a'],
      lastEventId: 'e-1',
      occupancy: false,
    });
    expect(
      parseClientMessage('{"type":"resume","topics":["a"],"lastEventId":"e-1","occupancy":true}', 8),
    ).toMatchObject({ type: 'resume', occupancy: true });
    expect(parseClientMessage('{"type":"publish","topic":"a","payload":"p"}', 8)).toEqual({
      type: 'publish',
      topic: 'a',
      payload: 'p',
      token: null,
    });
    expect(parseClientMessage('{"type":"publish","topic":"a","payload":"p","token":"t"}', 8)).toMatchObject({
      token: 't',
    });
    expect(parseClientMessage('{"type":"ping"}', 8)).toEqual({ type: 'ping' });
    expect(parseClientMessage('{"type":"refresh","token":"a.b.c"}', 8)).toEqual({
      type: 'refresh',
      token: 'a.b.c',
    });
  });

  it.each([
    ['nope', '400 malformed-json'],
    ['"str"', '400 bad-request'],
    ['{"type":"dance"}', '400 unknown-type'],
    ['{"type":"subscribe"}', '400 bad-topic'],
    ['{"type":"subscribe","topics":[]}', '400 missing-topic'],
    ['{"type":"subscribe","topics":["a","b","c"]}', '400 too-many-topics'],
    ['{"type":"resume","topics":["a"]}', '400 bad-id'],
    ['{"type":"publish","topic":"a"}', '400 bad-payload'],
    ['{"type":"refresh"}', '400 bad-request'],
    ['{"type":"refresh","token":""}', '400 bad-request'],
    ['{"type":"subscribe","topic":"a","occupancy":"yes"}', '400 bad-request'],
    ['{"type":"subscribe","topic":"a","occupancy":1}', '400 bad-request'],
    ['{"type":"resume","topics":["a"],"lastEventId":"e-1","occupancy":null}', '400 bad-request'],
  ])('%s -> %s', (text, expected) => {
    expect(code(parseClientMessage(text, 2))).toBe(expected);
  });
});

describe('internal messages', () => {
  it('accepts well-formed node messages', () => {
    const body = JSON.stringify({
      source: 'http://127.0.0.1:7101',
      message: { type: 'renew', requestId: 3, frontend: 'f', topics: ['a'], leaseMs: 1000, generation: 9 },
    });
    expect(parseInternalMessage(body)).toMatchObject({
      source: 'http://127.0.0.1:7101',
      message: { type: 'renew' },
    });
  });

  it('carries JSON payloads between nodes as they are', () => {
    const event = { id: 'e-1', topic: 'a', origin: 'dc-a', publishedAtMs: 1, payload: { n: [1, null] } };
    const deliver = JSON.stringify({ source: 's', message: { type: 'deliver', event } });
    expect(parseInternalMessage(deliver)).toEqual({ source: 's', message: { type: 'deliver', event } });
    const publish = { type: 'publish', requestId: 1, topic: 'a', payload: null };
    expect(parseInternalMessage(JSON.stringify({ source: 's', message: publish }))).toEqual({
      source: 's',
      message: publish,
    });
  });

  it('takes occupancy messages between dispatchers, with counts on lease requests', () => {
    const totals = [{ topic: 'a', count: 3, epoch: 7, ageMs: 10, validMs: 12_000 }];
    const occupancy = { type: 'occupancy', totals };
    expect(parseInternalMessage(JSON.stringify({ source: 's', message: occupancy }))).toEqual({
      source: 's',
      message: occupancy,
    });
    const renew = {
      type: 'renew',
      requestId: 1,
      frontend: 'f',
      topics: ['a'],
      leaseMs: 1,
      generation: 1,
      counts: [4],
    };
    expect(parseInternalMessage(JSON.stringify({ source: 's', message: renew }))).toEqual({
      source: 's',
      message: renew,
    });
  });

  it.each([
    ['{', '400 malformed-json'],
    ['{"message":{"type":"forward-ack","forwardId":1}}', '400 bad-message'],
    [
      '{"source":"s","message":{"type":"renew","requestId":1,"frontend":"f","topics":"a","leaseMs":1,"generation":1}}',
      '400 bad-message',
    ],
    ['{"source":"s","message":{"type":"deliver","event":{"id":"has space"}}}', '400 bad-message'],
    ['{"source":"s","message":{"type":"store-request","requestId":1}}', '400 bad-message'],
    [
      '{"source":"s","message":{"type":"deliver","event":{"id":"e","topic":"a","origin":"o","publishedAtMs":1}}}',
      '400 bad-message',
    ],
    ['{"source":"s","message":{"type":"publish","requestId":1,"topic":"a"}}', '400 bad-message'],
    [
      '{"source":"s","message":{"type":"renew","requestId":1,"frontend":"f","topics":["a","b"],"leaseMs":1,"generation":1,"counts":[1]}}',
      '400 bad-message',
    ],
    [
      '{"source":"s","message":{"type":"subscribe","requestId":1,"frontend":"f","topic":"a","leaseMs":1,"generation":1,"count":-1}}',
      '400 bad-message',
    ],
    ['{"source":"s","message":{"type":"occupancy","totals":[{"topic":"a","count":1.5}]}}', '400 bad-message'],
    [
      '{"source":"s","message":{"type":"lease-reply","requestId":1,"ok":true,"occupancy":[{"topic":"a","count":1,"byDc":{"a":"1"},"stale":[]}]}}',
      '400 bad-message',
    ],
  ])('%s -> %s', (body, expected) => {
    expect(code(parseInternalMessage(body))).toBe(expected);
  });
});

describe('bearer token', () => {
  it('reads Authorization: Bearer T', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer   t ')).toBe('t');
    expect(bearerToken('Basic xyz')).toBeNull();
    expect(bearerToken('')).toBeNull();
  });
});
