// Goal: the input rules accept what they should and name what they refuse; a payload is any JSON
// value, measured exactly as the UTF-8 length of its JSON text.
// Method: each rule against chosen values; the payload measure against JSON.stringify on every JSON
// kind, on chosen awkward strings and on fast-check's JSON values and code-unit soup, the property
// itself first shown to fail on a planted measure that forgets escapes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assert, AssertionError, unreachable } from './assert.ts';
import {
  dcError,
  eventIdError,
  isEventId,
  isTopic,
  payloadDepthMax,
  payloadError,
  payloadJsonBytes,
  publisherEventIdError,
  topicError,
  utf8Bytes,
} from './validation.ts';

describe('validation', () => {
  it('counts UTF-8 bytes like TextEncoder, surrogate pairs included', () => {
    for (const text of ['', 'abc', 'héllo', '€', '👍🏽 like', '\ud83d', 'a\udc00b', 'x'.repeat(1000)]) {
      expect(utf8Bytes(text), JSON.stringify(text)).toBe(new TextEncoder().encode(text).length);
    }
  });

  it('topic rules name the problem', () => {
    expect(topicError('live:video/42_a-b.c')).toBeNull();
    expect(topicError('')).toMatch(/empty/);
    expect(topicError('a b')).toMatch(/may only hold/);
    expect(topicError('x'.repeat(129))).toMatch(/longer than 128/);
    expect(topicError(7)).toMatch(/string/);
    expect(isTopic('ok')).toBe(true);
  });

  it('dc rules name the problem: the rule of stadium serve --dc', () => {
    expect(dcError('dc-a')).toBeNull();
    expect(dcError('local_1.eu-west')).toBeNull();
    expect(dcError('')).toMatch(/1 to 64/);
    expect(dcError('d'.repeat(65))).toMatch(/1 to 64/);
    expect(dcError('dc/a')).toMatch(/may only hold/);
    expect(dcError('dc a')).toMatch(/may only hold/);
    expect(dcError(1)).toMatch(/string/);
  });

  it('event id rules name the problem', () => {
    expect(eventIdError('dc-a/d-1:17')).toBeNull();
    expect(eventIdError('')).toMatch(/1 to 128/);
    expect(eventIdError('a b')).toMatch(/printable/);
    expect(eventIdError(null)).toMatch(/string/);
    expect(eventIdError('~dc-a.7000.1f-3')).toBeNull();
    expect(publisherEventIdError('~dc-a.7000.1f-3')).toMatch(/reserved for the ids servers assign/);
    expect(publisherEventIdError('like-42-~')).toBeNull();
    expect(publisherEventIdError('a b')).toMatch(/printable/);
    expect(isEventId('x')).toBe(true);
  });

  it('assertions throw AssertionError naming the broken rule', () => {
    expect(() => assert(false, 'queue exceeded its bound')).toThrow(
      new AssertionError('queue exceeded its bound'),
    );
    expect(() => unreachable('x' as never)).toThrow(/unreachable/);
  });
});

/** The size the payload rule promises: the UTF-8 length of JSON.stringify's text. */
function stringifiedBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).length;
}

/** Arrays (or objects, `{"a": ...}`) `depth` deep around a 1. */
function nested(depth: number, kind: 'array' | 'object'): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}

/** Single UTF-16 code units (lone surrogates and control characters included) and the usual suspects. */
const awkwardUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
  fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '\ud83d', '\udc00', '👍🏽', '€'),
);
const jsonValues = fc.oneof(
  fc.jsonValue(),
  fc.jsonValue({ stringUnit: 'binary' }),
  fc.jsonValue({ stringUnit: awkwardUnit }),
  fc.string({ unit: awkwardUnit, maxLength: 40 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Whether `measure` agrees with JSON.stringify on generated JSON values: fast-check's verdict. */
function measureAgrees(measure: (value: unknown) => number | string, numRuns: number): boolean {
  const details = fc.check(
    fc.property(jsonValues, (value) => measure(value) === stringifiedBytes(value)),
    { seed: 20261121, numRuns },
  );
  return !details.failed;
}

describe('payloads are any JSON value, sized by the UTF-8 bytes of their JSON text', () => {
  const roomy = 1 << 20;

  it('accepts every JSON kind and measures it exactly', () => {
    const kinds: unknown[] = [
      'like',
      '',
      '{"user":42}',
      'two\nlines "quoted" \\ \u0001 \u2028 €👍🏽',
      0,
      -0,
      42,
      -7.25,
      1e21,
      5e-324,
      Number.MAX_SAFE_INTEGER,
      true,
      false,
      null,
      [],
      {},
      [1, 'two', null, false, { three: [3] }],
      { user: 42, tags: ['a', 'b'], nested: { deep: [[], {}] }, 'ké"y': '€' },
      Object.assign(Object.create(null) as object, { bare: true }),
      JSON.parse('{"__proto__": {"polluted": true}}'),
      nested(payloadDepthMax, 'array'),
      nested(payloadDepthMax, 'object'),
    ];
    for (const value of kinds) {
      const label = JSON.stringify(value);
      expect(payloadError(value, roomy), label).toBeNull();
      expect(payloadJsonBytes(value), label).toBe(stringifiedBytes(value));
    }
  });

  it('measures like JSON.stringify on generated JSON values, lone surrogates and escapes included', () => {
    expect(measureAgrees(payloadJsonBytes, 2_000)).toBe(true);
  });

  it('planted: a measure that forgets escapes fails the same property', () => {
    // UTF-8 of the raw characters plus quotes: right for "like", wrong as soon as a quote or a newline appears.
    const forgetful = (value: unknown): number | string =>
      typeof value === 'string' ? utf8Bytes(value) + 2 : payloadJsonBytes(value);
    expect(measureAgrees(forgetful, 2_000)).toBe(false);
  });

  it('refuses what is not JSON, naming it (400 bad-payload)', () => {
    const refusals: [unknown, RegExp][] = [
      [undefined, /payload holds undefined, not a JSON value/],
      [{ a: undefined }, /payload holds undefined/],
      [[1, undefined], /payload holds undefined/],
      [new Array<unknown>(2), /payload holds undefined/],
      [() => 1, /payload holds a function/],
      [{ f: () => 1 }, /payload holds a function/],
      [Symbol('s'), /payload holds a symbol/],
      [10n, /payload holds a bigint/],
      [NaN, /payload holds a non-finite number/],
      [[Infinity], /payload holds a non-finite number/],
      [{ x: -Infinity }, /payload holds a non-finite number/],
      [new Date(0), /payload holds a Date, not a plain JSON object/],
      [new Map([[1, 2]]), /payload holds a Map/],
      [{ at: new (class Point {})() }, /payload holds a Point/],
      [new Uint8Array(2), /payload holds a Uint8Array/],
      [nested(payloadDepthMax + 1, 'array'), /payload nests deeper than 64/],
      [nested(payloadDepthMax + 1, 'object'), /payload nests deeper than 64/],
    ];
    for (const [value, why] of refusals) {
      const problem = payloadError(value, roomy);
      expect(problem?.code, String(why)).toBe('bad-payload');
      expect(problem?.message).toMatch(why);
    }
    // A cycle is caught by the depth bound, not by the stack.
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(payloadError(cycle, roomy)).toEqual({
      code: 'bad-payload',
      message: 'payload nests deeper than 64',
    });
    expect(payloadDepthMax).toBe(64);
  });

  it('measures the limit on the JSON text, in bytes: at the limit passes, one past it is refused (413)', () => {
    expect(payloadError('€€', 8)).toBeNull(); // "€€": 2 quotes + 6 bytes
    expect(payloadError('€€', 7)).toEqual({
      code: 'payload-too-large',
      message: 'payload is 8 bytes of JSON, over the limit of 7',
    });
    expect(payloadError('x'.repeat(69_998), 65_536)).toEqual({
      code: 'payload-too-large',
      message: 'payload is 70,000 bytes of JSON, over the limit of 65,536',
    });
    const object = { likes: 'x'.repeat(100) }; // {"likes":"xx..."}: 12 + 100 bytes
    expect(payloadError(object, 112)).toBeNull();
    expect(payloadError(object, 111)?.message).toBe('payload is 112 bytes of JSON, over the limit of 111');
    expect(payloadError([1, 2, 3], 7)).toBeNull();
    expect(payloadError([1, 2, 3], 6)?.code).toBe('payload-too-large');
    // Escapes count as what they take: six bytes for a control character, two for a quote.
    expect(payloadError('\u0001'.repeat(10), 62)).toBeNull();
    expect(payloadError('\u0001'.repeat(10), 61)?.message).toMatch(/62 bytes of JSON/);
    expect(payloadError('"'.repeat(10), 22)).toBeNull();
    expect(payloadError('"'.repeat(10), 21)?.message).toMatch(/22 bytes of JSON/);
  });
});
