/**
 * The planted-bug catalogue as the property runs are held to it: every bug, the invariant that must
 * catch it, and the run that must find it — `stadium check --runs 1000` with seed 1 — shrunk to
 * at most 3 faults and 8 nodes. Two test files share the list, half each, so they run side by side.
 */
import type { PlantedBug } from '../sim/index.ts';

export interface CatalogueEntry {
  bug: PlantedBug;
  /** The invariant the counterexample must break. */
  invariant: RegExp;
  /** Nodes the shrunk scenario may keep: 8, unless the entry says why a bug needs more. */
  nodesMax: number;
  why?: string;
}

export const catalogueRuns = 1_000;
export const catalogueSeed = 1;

export const catalogue: CatalogueEntry[] = [
  { bug: 'no-dedupe', invariant: /no-duplicates/, nodesMax: 8 },
  { bug: 'leases-ignored', invariant: /lease-hygiene/, nodesMax: 8 },
  { bug: 'wrong-topic', invariant: /no-misdelivery/, nodesMax: 8 },
  { bug: 'corrupt-payload', invariant: /integrity/, nodesMax: 8 },
  { bug: 'forward-twice', invariant: /forward-discipline/, nodesMax: 8 },
  { bug: 'unsubscribe-lost', invariant: /lease-release/, nodesMax: 8 },
  { bug: 'skip-frontend', invariant: /explained-loss/, nodesMax: 8 },
  { bug: 'renews-without-viewers', invariant: /lease-without-viewers/, nodesMax: 8 },
  { bug: 'unsubscribe-on-first-leave', invariant: /explained-loss/, nodesMax: 8 },
  { bug: 'prefix-lookup', invariant: /lease-hygiene/, nodesMax: 8 },
  {
    bug: 'reuse-event-ids',
    invariant: /forward-discipline|no-duplicates|integrity|explained-loss/,
    nodesMax: 8,
  },
  { bug: 'lease-shorter-than-renewal', invariant: /lease-release|explained-loss/, nodesMax: 8 },
  { bug: 'expiry-ignored', invariant: /lease-hygiene/, nodesMax: 8 },
  { bug: 'late-retries', invariant: /timely-retry/, nodesMax: 8 },
  {
    bug: 'tombstone-forgotten',
    invariant: /lease-release|lease-without-viewers/,
    nodesMax: 10,
    why: 'it needs a renewal reordered behind an unsubscribe, a race the shrinker cannot keep while removing a datacenter (removing one redraws every random stream)',
  },
  { bug: 'first-count-renewed', invariant: /occupancy-converge/, nodesMax: 8 },
  { bug: 'expired-leases-counted', invariant: /occupancy-converge/, nodesMax: 8 },
  { bug: 'stale-dc-dropped', invariant: /occupancy-stale-dropped/, nodesMax: 8 },
  {
    bug: 'renewals-stop-after-failure',
    invariant: /liveness-after-heal/,
    nodesMax: 9,
    why: 'it needs every attempt of a lease request lost, which random loss does only rarely; fewer datacenters redraw the losses',
  },
];
