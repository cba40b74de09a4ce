/**
 * What the fuzz generators (prod/fuzz.test.ts) draw from: one seeded random stream, the alphabets
 * of HTTP and of Stadium's topics, and topics and event ids that are wrong in one way each. One
 * seed gives the same cases on every run.
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

export const alphanumeric = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** RFC 9110 token characters: methods and header names. */
export const tokenChars = `${alphanumeric}!#$%&'*+-.^_\`|~`;
/** Visible ASCII: header values (with spaces inside). */
export const visible = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
/** Characters of a topic that is valid. */
export const topicChars = `${alphanumeric}_.:-/`;

export function invalidTopic(rng: FuzzRng): string {
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

export function invalidEventId(rng: FuzzRng): string {
  switch (rng.below(3)) {
    case 0:
      return rng.text(visible, rng.between(129, 300));
    case 1:
      return `${rng.text(visible, rng.between(1, 10))} ${rng.text(visible, rng.between(1, 10))}`;
    default:
      return `${rng.text(visible, rng.between(1, 5))}\u00e9`;
  }
}

/** A JSON value `depth` arrays or objects deep, a number at the bottom. */
export function nestedPayload(rng: FuzzRng, depth: number): unknown {
  let value: unknown = rng.below(100);
  for (let i = 0; i < depth; i++) value = rng.oneIn(2) ? [value] : { a: value };
  return value;
}
