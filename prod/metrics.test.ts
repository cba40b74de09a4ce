// Goal: `stadium_topic_occupancy` exports the most watched topics and never more than its bound,
// whatever the number of topics. Method: rank made-up counts with `mostWatched`, and scrape a
// registry fed more topics than the bound.
import { describe, expect, it } from 'vitest';
import type { Occupancy } from '../core/index.ts';
import { createMetrics, mostWatched, topicOccupancyMax } from './metrics.ts';

const watched = (topic: string, count: number): Occupancy => ({
  topic,
  count,
  byDc: { local: count },
  stale: [],
});

describe('most watched topics', () => {
  it('keeps the `limit` largest counts, largest first, ties in topic name order', () => {
    const all = [watched('c', 5), watched('a', 9), watched('d', 1), watched('b', 5), watched('e', 7)];
    expect(mostWatched(all, 3).map((o) => `${o.topic}=${o.count}`)).toEqual(['a=9', 'e=7', 'b=5']);
    expect(mostWatched(all, 10)).toHaveLength(5);
    expect(mostWatched([], 3)).toEqual([]);
  });

  it('agrees with sorting everything, for every order of the input', () => {
    const all = Array.from({ length: 40 }, (_, i) => watched(`t${i}`, (i * 7) % 13));
    const sorted = [...all].sort((x, y) => y.count - x.count || (x.topic < y.topic ? -1 : 1)).slice(0, 20);
    for (let rotation = 0; rotation < all.length; rotation += 7) {
      const input = [...all.slice(rotation), ...all.slice(0, rotation)].reverse();
      expect(mostWatched(input, 20)).toEqual(sorted);
    }
  });

  it(`the gauge holds at most ${topicOccupancyMax} topics, and forgets those that fell out`, async () => {
    let topics = Array.from({ length: 50 }, (_, i) => watched(`t${i}`, i));
    const metrics = createMetrics(
      {
        connections: () => ({ sse: 0, ws: 0 }),
        subscriptions: () => 0,
        topics: () => 0,
        storeUp: () => null,
        coreCounters: () => [],
        topicOccupancy: () => topics,
      },
      {},
    );
    const scrape = async (): Promise<string[]> =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((line) => line.startsWith('stadium_topic_occupancy{'));
    const lines = await scrape();
    expect(lines).toHaveLength(topicOccupancyMax);
    expect(lines).toContain('stadium_topic_occupancy{topic="t49"} 49');
    expect(lines).toContain('stadium_topic_occupancy{topic="t30"} 30');
    expect(lines.some((line) => line.includes('"t29"'))).toBe(false);
    topics = [watched('solo', 3)];
    expect(await scrape()).toEqual(['stadium_topic_occupancy{topic="solo"} 3']);
  });
});
