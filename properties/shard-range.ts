/**
 * Shards: a run's scenario indexes cut into `count` contiguous slices, as `vitest --shard` cuts its
 * test files, so that machines that each run one slice of the same seed together run the whole.
 * Shard `index` (1-based) of `count` holds [floor((index-1)·runs/count), floor(index·runs/count)):
 * the slices cover every index once, and differ in size by at most one.
 */
export interface Shard {
  /** 1 .. count. */
  index: number;
  count: number;
}

/** Why "`text`" is not a shard of a run of `runs`, or null when it is one. */
export function shardError(text: string, runs: number): string | null {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (match === null) return `--shard looks like 2/5: this machine's shard, of how many (got "${text}")`;
  const [index, count] = [Number(match[1]), Number(match[2])];
  if (count < 1 || index < 1 || index > count)
    return `--shard ${text}: the shard must be from 1 to the count, and the count at least 1`;
  if (count > runs)
    return `--shard ${text}: more shards than --runs (${runs}) leaves some with nothing to check`;
  return null;
}

/** "2/5" as a shard; call `shardError` first. */
export function parseShard(text: string): Shard {
  const [index, count] = text.split('/').map(Number);
  if (index === undefined || count === undefined) throw new Error(`not a shard: ${text}`);
  return { index, count };
}

/** The indexes of `shard` in a run of `runs`: [from, to). */
export function shardRange(runs: number, shard: Shard): { from: number; to: number } {
  return {
    from: Math.floor(((shard.index - 1) * runs) / shard.count),
    to: Math.floor((shard.index * runs) / shard.count),
  };
}
