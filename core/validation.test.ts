// Goal: the input rules accept what they should and name what they refuse.
import { describe, expect, it } from 'vitest';
import { assert, AssertionError, unreachable } from './assert.ts';
import {
  dcError,
  eventIdError,
  isEventId,
  isTopic,
  payloadError,
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

  it('payload rules count bytes, not characters', () => {
    expect(payloadError('€€', 6)).toBeNull();
    expect(payloadError('€€€', 6)).toMatch(/9 bytes, over the limit of 6/);
    expect(payloadError({}, 6)).toMatch(/string/);
  });

  it('assertions throw AssertionError naming the broken rule', () => {
    expect(() => assert(false, 'queue exceeded its bound')).toThrow(
      new AssertionError('queue exceeded its bound'),
    );
    expect(() => unreachable('x' as never)).toThrow(/unreachable/);
  });
});
