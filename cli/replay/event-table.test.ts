// Goal: the event table knows where each published event's records lie, and only publishes start
// an event. Method: records noted by hand, in trace order.
import { describe, expect, it } from 'vitest';
import { EventTable } from './event-table.ts';

describe('the event table', () => {
  it("keeps each event's first and last records, from its publish on", () => {
    const events = new EventTable();
    expect(events.firstPublishTime()).toBeNull();
    events.note('e-1', false, 10, 1); // a record naming an event never published is not kept
    events.note('e-1', true, 100, 5);
    events.note('e-2', true, 200, 6);
    events.note('e-1', false, 300, 9);
    expect(events.size).toBe(2);
    expect(events.has('e-1')).toBe(true);
    expect(events.span('e-1')).toEqual({ firstOffset: 100, firstT: 5, lastOffset: 300, lastT: 9 });
    expect(events.span('e-2')).toEqual({ firstOffset: 200, firstT: 6, lastOffset: 200, lastT: 6 });
    expect(events.span('e-3')).toBeNull();
    expect(events.firstPublishTime()).toBe(5);
    expect(events.publishTime('e-2')).toBe(6);
    expect(events.publishTime('e-3')).toBeNull();
  });

  it('holds thousands of events in its columns', () => {
    const events = new EventTable();
    for (let i = 0; i < 5000; i++) events.note(`e-${i}`, true, i * 10, i);
    expect(events.span('e-4999')).toEqual({
      firstOffset: 49_990,
      firstT: 4999,
      lastOffset: 49_990,
      lastT: 4999,
    });
    expect(events.span('e-0')!.firstOffset).toBe(0);
  });
});
