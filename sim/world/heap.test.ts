// Goal: the event heap pops in (time, insertion) order, so ties break the same way on every run.
import { describe, expect, it } from 'vitest';
import { EventHeap } from './heap.ts';

describe('event heap', () => {
  it('pops by time, and by insertion order within one instant', () => {
    const heap = new EventHeap<{ at: number; seq: number; label: string }>();
    let state = 7;
    const next = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31);
    const pushed: { at: number; label: string; order: number }[] = [];
    for (let i = 0; i < 2_000; i++) {
      const at = next() % 50; // many ties
      heap.push({ at, label: `item-${i}` });
      pushed.push({ at, label: `item-${i}`, order: i });
    }
    const popped: string[] = [];
    while (heap.size > 0) popped.push(heap.pop()!.label);
    const expected = [...pushed].sort((a, b) => a.at - b.at || a.order - b.order).map((x) => x.label);
    expect(popped).toEqual(expected);
    expect(heap.pop()).toBeUndefined();
  });

  it('interleaved pushes and pops keep the order', () => {
    const heap = new EventHeap<{ at: number; seq: number }>();
    heap.push({ at: 5 });
    heap.push({ at: 1 });
    expect(heap.pop()?.at).toBe(1);
    heap.push({ at: 3 });
    heap.push({ at: 3 });
    expect(heap.peek()?.at).toBe(3);
    const [a, b] = [heap.pop()!, heap.pop()!];
    expect(a.seq).toBeLessThan(b.seq);
    expect(heap.pop()?.at).toBe(5);
  });
});
