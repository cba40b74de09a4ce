/**
 * Interned strings: each distinct name (a node, a topic, a connection, a datacenter) is kept once
 * and referred to by a small integer, so the index's logs and snapshots are arrays of integers
 * whatever the length of the names. Ids are dense, from 0, in order of first sight.
 */
import { assert } from '../../core/index.ts';

export class StringTable {
  private readonly texts: string[] = [];
  private readonly ids = new Map<string, number>();

  /** The id of `text`, given on first sight. */
  intern(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.texts.length;
      this.texts.push(text);
      this.ids.set(text, id);
    }
    return id;
  }

  /** The text of an id `intern` gave. */
  text(id: number): string {
    const text = this.texts[id];
    assert(text !== undefined, `string table: no string with id ${id}`);
    return text;
  }

  get size(): number {
    return this.texts.length;
  }
}
