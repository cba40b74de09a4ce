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

/**
 * The ceiling `stadium bench` measures the world against: pop the earliest item and push one a
 * jittered latency later, `items` times, from a heap of 10,000. Items per second of wall time.
 */
export function bareHeapLoop(items: number): number {
  const heap = new EventHeap<{ at: number; seq: number; node: number }>();
  let x = 12_345;
  const next = (): number => (x = (x * 1_103_515_245 + 12_345) & 0x7fffffff);
  for (let i = 0; i < 10_000; i++) heap.push({ at: next() % 1_000_000, node: i });
  const count = Math.max(items, 1_000_000);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const item = heap.pop();
    if (item === undefined) break;
    heap.push({ at: item.at + 200 + (next() % 50_000), node: item.node });
  }
  const ms = Math.max(1, performance.now() - started);
  return Math.round((count / ms) * 1000);
}
