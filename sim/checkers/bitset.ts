/** A growable set of small non-negative integers, one bit each: who of the connections has an event. */
const noWords = new Uint32Array(0);

export class Bitset {
  private words = new Uint32Array(8);

  /** Bytes its bits take. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** Clear every bit and give back their memory. */
  forget(): void {
    this.words = noWords;
  }

  /** Set bit `i`; true if it was already set. */
  testAndSet(i: number): boolean {
    const word = i >>> 5;
    if (word >= this.words.length) {
      const grown = new Uint32Array(Math.max(word + 1, this.words.length * 2, 8));
      grown.set(this.words);
      this.words = grown;
    }
    const mask = 1 << (i & 31);
    const had = ((this.words[word] as number) & mask) !== 0;
    this.words[word] = (this.words[word] as number) | mask;
    return had;
  }

  has(i: number): boolean {
    const word = i >>> 5;
    return word < this.words.length && ((this.words[word] as number) & (1 << (i & 31))) !== 0;
  }
}
