// Goal: a cursor text gives back exactly the cursors it was made from, stays printable, short and
// bounded, and a text that breaks the format is refused with the problem named, never thrown.
// Method: fast-check round trips over cursors the validation rules allow (long fields, shared
// prefixes and separator characters in ids on purpose), a table of broken texts, every cut of a
// text, and the worst case built by hand.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cursorError,
  cursorTextMaxChars,
  cursorTopicsMax,
  decodeCursors,
  encodeCursors,
  isCursorText,
} from './cursor.ts';
import type { TopicCursor } from './types.ts';
import { dcCharsMax, eventIdBytesMax, eventIdError, topicBytesMax } from './validation.ts';

const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
const letters = [...range(0x41, 0x5a), ...range(0x61, 0x7a), ...range(0x30, 0x39)];
const topicChars = [...letters, '_', '.', ':', '-', '/'];
const dcChars = [...letters, '_', '.', '-'];
const idChars = range(0x21, 0x7e);

// `size: 'max'` reaches the longest fields and the most cursors; fast-check's default keeps them short.
const topicArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...topicChars), minLength: 1, maxLength: topicBytesMax }),
  fc.string({ unit: fc.constantFrom(...topicChars), minLength: 1, maxLength: topicBytesMax, size: 'max' }),
  // Shared prefixes, as the topics of one page have them.
  fc
    .tuple(
      fc.constantFrom('live/video-1234/', 'live/video-12', 'news:eu/', 'a', ''),
      fc.string({ unit: fc.constantFrom(...topicChars), minLength: 1, maxLength: 12 }),
    )
    .map(([prefix, rest]) => prefix + rest),
);
const dcArb = fc.oneof(
  fc.constantFrom('dc-a', 'dc-b', 'local'),
  fc.string({ unit: fc.constantFrom(...dcChars), minLength: 1, maxLength: dcCharsMax, size: 'max' }),
);
const epochArb = fc.oneof(
  fc.constantFrom(1, 2, Number.MAX_SAFE_INTEGER),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
);
const seqArb = fc.oneof(fc.nat(3_000), fc.constantFrom(0, Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
const idArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...idChars), minLength: 1, maxLength: eventIdBytesMax }),
  fc.string({ unit: fc.constantFrom(...idChars), minLength: 1, maxLength: eventIdBytesMax, size: 'max' }),
  // The characters that mean something in a cursor text, and ids that share long prefixes.
  fc.string({
    unit: fc.constantFrom(',', '+', '^', '@', '$', '~', 'c', '1', '%'),
    minLength: 1,
    maxLength: 8,
  }),
  fc
    .tuple(fc.constantFrom('~dc-a.7001.3f9a0c1e-', '~dc-b.7002.b81d77a2-'), fc.nat(10_000_000))
    .map(([prefix, n]) => `${prefix}${n}`),
);
const cursorArb: fc.Arbitrary<TopicCursor> = fc
  .record({ topic: topicArb, dc: dcArb, epoch: epochArb, seq: seqArb, lastEventId: fc.option(idArb) })
  .map(({ lastEventId, ...cursor }) => (lastEventId === null ? cursor : { ...cursor, lastEventId }));
const cursorsArb = fc.uniqueArray(cursorArb, {
  minLength: 1,
  maxLength: cursorTopicsMax,
  size: 'max',
  selector: (cursor) => cursor.topic,
});

/** The order the format promises: by dc, then epoch, then topic. */
function canonical(cursors: readonly TopicCursor[]): TopicCursor[] {
  const key = (c: TopicCursor): [string, number, string] => [c.dc, c.epoch, c.topic];
  return [...cursors].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
    return 0;
  });
}

describe('cursor text round trip', () => {
  it('decoding the text of any valid cursors gives them back, in dc, epoch, topic order', () => {
    fc.assert(
      fc.property(cursorsArb, (cursors) => {
        const decoded = decodeCursors(encodeCursors(cursors));
        expect(decoded).toEqual({ ok: true, cursors: canonical(cursors) });
      }),
      { numRuns: 500 },
    );
  });

  it('the text depends only on the set of cursors, not their order', () => {
    fc.assert(
      fc.property(cursorsArb, fc.nat(), (cursors, shift) => {
        const turned = cursors.map((_, i) => cursors[(i + shift) % cursors.length]!).reverse();
        expect(encodeCursors(turned)).toBe(encodeCursors(cursors));
      }),
    );
  });

  it('the text is printable ASCII without LF, CR or NUL, within the bound, and never an event id', () => {
    fc.assert(
      fc.property(cursorsArb, (cursors) => {
        const text = encodeCursors(cursors);
        expect(text).toMatch(/^[\x20-\x7e]+$/);
        expect(text).not.toMatch(/[\n\r\0]/);
        expect(text.length).toBeLessThanOrEqual(cursorTextMaxChars);
        expect(isCursorText(text)).toBe(true);
        expect(eventIdError(text)).not.toBeNull();
      }),
    );
  });

  it('the worst case (64 cursors, every field at its longest, nothing shared) is exactly the bound', () => {
    // 64 distinct first characters keep topics, dcs and ids from sharing any prefix.
    const cursors = Array.from({ length: cursorTopicsMax }, (_, i): TopicCursor => ({
      topic: topicChars[i]!.repeat(topicBytesMax),
      dc: dcChars[i]!.repeat(dcCharsMax),
      epoch: Number.MAX_SAFE_INTEGER,
      seq: Number.MAX_SAFE_INTEGER,
      lastEventId: idChars[i]!.repeat(eventIdBytesMax),
    }));
    const text = encodeCursors(cursors);
    expect(text.length).toBe(cursorTextMaxChars);
    expect(decodeCursors(text)).toEqual({ ok: true, cursors: canonical(cursors) });
  });

  it('sizes in the header: 1, 8 and 64 realistic topics, and 64 with nothing shared', () => {
    const sample = (n: number): TopicCursor[] =>
      Array.from({ length: n }, (_, i) => ({
        topic: `live/video-1234/topic-${i}`,
        dc: 'dc-a',
        epoch: 1_763_000_000_000,
        seq: 1_500 + 7 * i,
        // The last events of different topics came through two dispatchers.
        lastEventId:
          i % 2 === 0
            ? `~dc-a.7001.3f9a0c1e-${1_234_567 + 13 * i}`
            : `~dc-a.7002.b81d77a2-${987_654 + 11 * i}`,
      }));
    const plain = (cursors: TopicCursor[]): number =>
      'c1 @dc-a,'.length +
      (1_763_000_000_000).toString(36).length +
      cursors.reduce((sum, c) => sum + ` ${c.topic},${c.seq.toString(36)},${c.lastEventId}`.length, 0) +
      ' $'.length;
    expect([1, 8, 64].map((n) => encodeCursors(sample(n)).length)).toEqual([75, 281, 1_850]);
    expect(plain(sample(64))).toBe(3_625);
  });

  it('a cursor without a last event id, and seq 0, come back as they were', () => {
    const cursors: TopicCursor[] = [
      { topic: 'a', dc: 'dc-a', epoch: 1, seq: 0 },
      { topic: 'b', dc: 'dc-a', epoch: 1, seq: 3, lastEventId: 'x,y+z' },
    ];
    const text = encodeCursors(cursors);
    expect(text).toBe('c1 @dc-a,1 a,0 b,3,x,y+z $');
    const decoded = decodeCursors(text);
    expect(decoded).toEqual({ ok: true, cursors });
    expect(decoded.ok && 'lastEventId' in decoded.cursors[0]!).toBe(false);
  });

  it('the encoder asserts what its callers promise: 1 to 64 valid cursors, one per topic', () => {
    const one: TopicCursor = { topic: 't', dc: 'dc-a', epoch: 1, seq: 0 };
    expect(() => encodeCursors([])).toThrow(/1 to 64 cursors/);
    expect(() => encodeCursors(Array.from({ length: 65 }, (_, i) => ({ ...one, topic: `t${i}` })))).toThrow(
      /1 to 64 cursors/,
    );
    expect(() => encodeCursors([one, { ...one, seq: 2 }])).toThrow(/two cursors/);
    expect(() => encodeCursors([{ ...one, epoch: 0 }])).toThrow(/epoch/);
    expect(() => encodeCursors([{ ...one, seq: 1.5 }])).toThrow(/seq/);
    expect(() => encodeCursors([{ ...one, dc: 'dc a' }])).toThrow(/dc/);
    expect(() => encodeCursors([{ ...one, lastEventId: 'a b' }])).toThrow(/printable/);
    expect(cursorError(one)).toBeNull();
  });
});

describe('cursor text refused', () => {
  const g = 'c1 @dc-a,1';
  const cases: [name: string, text: string, error: RegExp][] = [
    ['empty', '', /not a cursor text/],
    ['an event id', '~dc-a.7001.3f-17', /not a cursor text/],
    ['upper-case version', 'C1 @dc-a,1 t,0 $', /not a cursor text/],
    ['a later version', 'c2 @dc-a,1 t,0 $', /cursor format c2 is not known/],
    ['the version alone', 'c1', /cut short/],
    ['no end', `${g} t,0`, /cut short/],
    ['cut inside the last seq', `${g} t,1`, /cut short/],
    ['a space after the end', `${g} t,0 $ `, /cut short/],
    ['no cursors', 'c1 $', /names no cursors/],
    ['two spaces', `${g}  t,0 $`, /cursor 1: empty/],
    ['the end in the middle', `${g} t,0 $ u,0 $`, /cursor 2: "\$" ends a text/],
    ['a cursor before any group', 'c1 t,0 $', /cursor 1: comes before any @dc,epoch group/],
    ['a group without cursors', `${g} @dc-b,1 t,0 $`, /group 1: names no cursors/],
    ['a last group without cursors', `${g} t,0 @dc-b,1 $`, /group 2: names no cursors/],
    ['a group without epoch', 'c1 @dc-a t,0 $', /group 1: no epoch/],
    ['an empty dc', 'c1 @,1 t,0 $', /group 1: dc must be 1 to 64/],
    ['a dc with a slash', 'c1 @dc/a,1 t,0 $', /group 1: dc "dc\/a" may only hold/],
    ['epoch 0', 'c1 @dc-a,0 t,0 $', /group 1: epoch must be at least 1/],
    ['a fractional epoch', 'c1 @dc-a,1.5 t,0 $', /group 1: epoch is not a whole number/],
    ['a negative epoch', 'c1 @dc-a,-1 t,0 $', /group 1: epoch is not a whole number/],
    ['a second group broken', `${g} t,0 @dc-b,x! u,0 $`, /group 2: epoch is not a whole number/],
    ['an entry without seq', `${g} t $`, /cursor 1: no seq/],
    ['an empty seq', `${g} t, $`, /cursor 1: seq is not a whole number/],
    ['a leading zero', `${g} t,01 $`, /cursor 1: seq is not a whole number/],
    ['upper-case digits', `${g} t,A $`, /cursor 1: seq is not a whole number/],
    ['a seq of 12 digits', `${g} t,zzzzzzzzzzzz $`, /cursor 1: seq is not a whole number/],
    ['seq 2^53', `${g} t,${(2 ** 53).toString(36)} $`, /cursor 1: seq is past the largest safe integer/],
    ['an empty topic', `${g} ,0 $`, /cursor 1: topic must not be empty/],
    ['a topic with !', `${g} t!,0 $`, /cursor 1: topic "t!" may only hold/],
    ['a topic of 129', `${g} ${'t'.repeat(129)},0 $`, /cursor 1: topic is longer than 128/],
    ['an empty event id', `${g} t,0, $`, /cursor 1: event id must be 1 to 128/],
    ['an event id of 129', `${g} t,0,${'i'.repeat(129)} $`, /cursor 1: event id must be 1 to 128/],
    ['a tab in an event id', `${g} t,0,a\tb $`, /cursor 1: event id may only hold printable/],
    ['a line feed in an event id', `${g} t,0,a\nb $`, /cursor 1: event id may only hold printable/],
    ['a second cursor for a topic', `${g} t,1 t,2 $`, /cursor 2: topic "t" has a cursor already/],
    ['the same topic in two groups', `${g} t,1 @dc-b,1 t,2 $`, /cursor 2: topic "t" has a cursor already/],
    ['a shared topic prefix first', `${g} ^04abc,0 $`, /cursor 1: it shares a prefix with no previous topic/],
    [
      'a shared topic prefix too long',
      `${g} abc,0 ^09x,0 $`,
      /cursor 2: it shares 9 characters of the previous topic, which has 3/,
    ],
    ['a shared topic prefix of 0', `${g} abc,0 ^00x,0 $`, /cursor 2: it shares 0 characters/],
    [
      'a shared length of 1 digit',
      `${g} abc,0 ^1,0 $`,
      /cursor 2: the shared length of its topic must be 2 base-36 digits/,
    ],
    ['a shared event id first', `${g} t,1+04abc $`, /cursor 1: it shares a prefix with no previous event id/],
    [
      'a shared event id too long',
      `${g} t,1,ab u,1+05c $`,
      /cursor 2: it shares 5 characters of the previous event id, which has 2/,
    ],
    [
      'a shared event id cut',
      `${g} t,1,abcdef u,1+0 $`,
      /cursor 2: the shared length of its event id must be 2 base-36 digits/,
    ],
    ['oversized', `c1 @dc-a,1 t,0,${'i'.repeat(cursorTextMaxChars)} $`, /over cursorTextMaxChars \(22276\)/],
    [
      '65 cursors',
      `${g} ${Array.from({ length: 65 }, (_, i) => `t${i},0`).join(' ')} $`,
      /more than cursorTopicsMax \(64\) cursors/,
    ],
  ];

  it.each(cases)('%s', (_name, text, error) => {
    const decoded = decodeCursors(text);
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.error).toMatch(error);
  });

  it('a text cut short anywhere is refused, never read as fewer or shorter cursors', () => {
    fc.assert(
      fc.property(cursorsArb, (cursors) => {
        const text = encodeCursors(cursors);
        for (let length = 0; length < text.length; length++)
          expect(decodeCursors(text.slice(0, length)).ok, text.slice(0, length)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('any text: never a throw; a refusal names its problem; what is accepted is valid and re-encodes', () => {
    const mutated = fc
      .tuple(
        cursorsArb,
        fc.nat(),
        fc.constantFrom('', ' ', ',', '+', '^', '@', '$', '0', 'z', '\n'),
        fc.nat(3),
      )
      .map(([cursors, at, insert, remove]) => {
        const text = encodeCursors(cursors);
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + remove);
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string(), fc.string({ unit: 'binary' })), (text) => {
        const decoded = decodeCursors(text);
        if (!decoded.ok) {
          expect(decoded.error.length).toBeGreaterThan(0);
          return;
        }
        expect(decoded.cursors.length).toBeLessThanOrEqual(cursorTopicsMax);
        for (const cursor of decoded.cursors) expect(cursorError(cursor)).toBeNull();
        expect(decodeCursors(encodeCursors(decoded.cursors))).toEqual({
          ok: true,
          cursors: canonical(decoded.cursors),
        });
      }),
      { numRuns: 2_000 },
    );
  });
});
