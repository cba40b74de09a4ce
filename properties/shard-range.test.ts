// Goal: the shards of a run cover each of its scenario indexes exactly once, in contiguous slices
// whose sizes differ by at most one, and a malformed --shard is named.
// Method: fast-check over run lengths and shard counts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseShard, shardError, shardRange } from './shard-range.ts';

describe('shards', () => {
  it('slices cover 0 .. runs-1 once, in order, sizes within one of each other', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 1, max: 500 }),
        (runs, wanted) => {
          const count = Math.min(runs, wanted);
          const slices = Array.from({ length: count }, (_, i) => shardRange(runs, { index: i + 1, count }));
          expect(slices[0]!.from).toBe(0);
          expect(slices.at(-1)!.to).toBe(runs);
          for (const [i, slice] of slices.entries()) if (i > 0) expect(slice.from).toBe(slices[i - 1]!.to);
          const sizes = slices.map((s) => s.to - s.from);
          expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a malformed shard is named; a good one parses', () => {
    expect(shardError('2/5', 100)).toBeNull();
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    expect(shardError('2', 100)).toMatch(/--shard looks like 2\/5/);
    expect(shardError('-1/5', 100)).toMatch(/--shard looks like/);
    expect(shardError('0/5', 100)).toMatch(/from 1 to the count/);
    expect(shardError('6/5', 100)).toMatch(/from 1 to the count/);
    expect(shardError('1/0', 100)).toMatch(/from 1 to the count/);
    expect(shardError('1/101', 100)).toMatch(/more shards than --runs \(100\)/);
  });
});
