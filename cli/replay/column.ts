/**
 * A growable column of numbers in a typed array, doubling like an array but holding raw numbers
 * (4 or 8 bytes each, outside the JavaScript heap's object graph): what the index keeps per
 * structural change and per event.
 */
export class Column {
  private data: Float64Array | Int32Array;

  constructor(private readonly kind: 'f64' | 'i32') {
    this.data = kind === 'f64' ? new Float64Array(1024) : new Int32Array(1024);
  }

  set(i: number, value: number): void {
    // Columns are filled one index after the other: doubling once always makes room.
    if (i >= this.data.length) {
      const size = this.data.length * 2;
      const grown = this.kind === 'f64' ? new Float64Array(size) : new Int32Array(size);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[i] = value;
  }

  get(i: number): number {
    return this.data[i]!;
  }

  bytes(): number {
    return this.data.byteLength;
  }
}
