// Goal: the occupancy bench measures what it says: the extra node messages do not grow with the
// viewers, and every watcher ends on the exact count soon after churn stops.
// Method: two small simulated runs (seeded, virtual time, so the figures are the same everywhere).
import { describe, expect, it } from 'vitest';
import { coreRoles } from '../sim/index.ts';
import type { Roles } from '../sim/index.ts';
import { benchOccupancy, defaultOccupancyBench, summarizeOccupancy } from './occupancy.ts';

/** A planted bug: frontends renew every topic with a count of 1, whatever their viewers. */
const firstCountOnly: Roles = {
  ...coreRoles,
  frontend: {
    ...coreRoles.frontend,
    handle: (state, input, now) =>
      coreRoles.frontend
        .handle(state, input, now)
        .map((effect) =>
          effect.kind === 'send' && effect.message.type === 'renew' && effect.message.counts !== undefined
            ? { ...effect, message: { ...effect.message, counts: effect.message.counts.map(() => 1) } }
            : effect,
        ),
  },
};

const small = { ...defaultOccupancyBench, durationMs: 15_000, watchersEvery: 20 };

describe('occupancy bench', () => {
  it('costs the same extra messages per second for 400 viewers as for 1,600, and converges after churn', () => {
    const few = benchOccupancy({ ...small, viewers: 400 });
    const many = benchOccupancy({ ...small, viewers: 1_600 });
    expect(few.messagesPerSecond.extra).toBeGreaterThan(0);
    // Four times the viewers, four times the churn: the same frontends and dispatchers talk.
    expect(many.churnChangesPerSecond).toBeGreaterThan(3 * few.churnChangesPerSecond);
    expect(Math.abs(many.messagesPerSecond.extra - few.messagesPerSecond.extra)).toBeLessThan(
      0.15 * few.messagesPerSecond.extra,
    );
    for (const run of [few, many]) {
      // Five intervals (two datacenters) and the network: the bound sim/occupancy-bounds.ts names.
      expect(run.convergedMsAfterChurn).not.toBeNull();
      expect(run.convergedMsAfterChurn!).toBeLessThan(6 * small.occupancyEveryMs);
      expect(run.samples.at(-1)?.exactShare).toBe(1);
    }
    const summary = summarizeOccupancy(many);
    expect(summary.curve.length).toBeGreaterThan(10);
    expect(summary).not.toHaveProperty('samples');
  });

  it('sees frontends that report a wrong count (planted): the error never goes away', () => {
    const frozen = benchOccupancy({ ...small, viewers: 400, roles: firstCountOnly });
    expect(frozen.convergedMsAfterChurn).toBeNull();
    expect(frozen.error.meanOfMeans).toBeGreaterThan(50);
  });
});
