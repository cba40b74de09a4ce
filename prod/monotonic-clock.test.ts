// Goal: the clock the host gives the core never runs backwards, even when the wall clock does.
// Method: a fake wall clock stepped forward and back.
import { describe, expect, it } from 'vitest';
import { monotonicClock } from './monotonic-clock.ts';

describe('monotonic clock', () => {
  it('follows the wall clock forward and holds still while it steps back', () => {
    const wall = [1_000, 1_005, 990, 1_003, 1_010];
    const now = monotonicClock(() => wall.shift() ?? 0);
    expect([now(), now(), now(), now(), now()]).toEqual([1_000, 1_005, 1_005, 1_005, 1_010]);
  });
});
