/**
 * The event queue: a binary min-heap ordered by (time, insertion sequence), so two events at the
 * same microsecond always run in the order they were scheduled, on every run.
 */
export interface Scheduled {
  at: number;
  seq: number;
}

/** An item before the heap gives it its sequence number (distributes over unions). */
export type Unscheduled<T> = T extends unknown ? Omit<T, 'seq'> : never;

export class EventHeap<T extends Scheduled> {
  private readonly items: T[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }

  /** Assign the item its sequence number and queue it. */
  push(item: Unscheduled<T>): void {
    const entry = item as unknown as T;
    entry.seq = this.nextSeq++;
    const items = this.items;
    let index = items.push(entry) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const up = items[parent] as T;
      if (up.at < entry.at || (up.at === entry.at && up.seq < entry.seq)) break;
      items[index] = up;
      index = parent;
    }
    items[index] = entry;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let index = 0;
    const length = items.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      const l = items[left] as T;
      if (right < length) {
        const r = items[right] as T;
        if (r.at < l.at || (r.at === l.at && r.seq < l.seq)) child = right;
      }
      const c = items[child] as T;
      if (last.at < c.at || (last.at === c.at && last.seq < c.seq)) break;
      items[index] = c;
      index = child;
    }
    items[index] = last;
    return top;
  }
}
