/**
 * What a property run saw, summed over its scenarios: fault mixes, faults asked for and fired,
 * deaths by role, dropped and duplicated messages, deliveries, viewer counts judged. Every count is a sum of per-scenario
 * contributions, so tallies of disjoint parts of a run add up to the tally of the whole.
 */
import { faultKinds, type FaultKind, type Report } from '../sim/index.ts';
import { faultMixes, type FaultMix, type GeneratedScenario } from './arbitraries.ts';

export interface FaultTally {
  /** Generated scenarios checked: until the first failure, and that one. */
  generated: number;
  /** Scenarios checked after the first failure, while shrinking it. */
  shrinkCandidates: number;
  /** The counts from here on are over every scenario checked, shrink candidates included. */
  byMix: Record<FaultMix, number>;
  /** Faults scheduled in the generated scenarios, by kind. */
  requested: Record<FaultKind, number>;
  /** Faults that started during a run, by kind. */
  started: Record<FaultKind, number>;
  deathsByRole: { frontend: number; dispatcher: number; store: number };
  /** Messages dropped, by reason (partition, isolated, loss, target-dead...). */
  drops: Record<string, number>;
  duplicatedMessages: number;
  deliveries: number;
  /**
   * Viewer counts judged: scenarios whose counts were, their quiet stretches, the counts judged
   * against a partition in force, and the partitions whose stale check was made.
   */
  occupancy: { scenarios: number; stretches: number; againstCuts: number; cutsChecked: number };
}

/** Whether a fault kind's effect shows in the tally. */
const tookEffect: Record<FaultKind, (tally: FaultTally) => boolean> = {
  kill: (t) => t.started.kill > 0,
  partition: (t) => (t.drops.partition ?? 0) > 0,
  isolate: (t) => (t.drops.isolated ?? 0) > 0,
  'jitter-storm': (t) => t.started['jitter-storm'] > 0,
  'loss-burst': (t) => (t.drops.loss ?? 0) > 0,
};

/** Fault kinds that scenarios asked for but that never showed their effect in the whole run. */
export function ineffectiveKinds(tally: FaultTally): FaultKind[] {
  return faultKinds.filter((kind) => tally.requested[kind] > 0 && !tookEffect[kind](tally));
}

/** Count one checked scenario; `report` is null when its simulation threw. */
export function record(
  tally: FaultTally,
  generated: GeneratedScenario,
  report: Report | null,
  shrinking: boolean,
): void {
  if (shrinking) tally.shrinkCandidates++;
  else tally.generated++;
  tally.byMix[generated.mix]++;
  for (const fault of generated.scenario.faults) {
    tally.requested[fault.kind]++;
    if (fault.kind === 'kill') {
      const role = fault.node.includes('/frontend-')
        ? 'frontend'
        : fault.node.includes('/dispatcher-')
          ? 'dispatcher'
          : 'store';
      tally.deathsByRole[role]++;
    }
  }
  if (report === null) return;
  for (const kind of faultKinds) tally.started[kind] += report.faults[kind];
  for (const [why, n] of Object.entries(report.messages.dropped))
    tally.drops[why] = (tally.drops[why] ?? 0) + n;
  tally.duplicatedMessages += report.messages.duplicated;
  tally.deliveries += report.delivered;
  const { occupancy } = report;
  if (occupancy.notJudged === null && occupancy.windowsJudged + occupancy.stale.judged > 0)
    tally.occupancy.scenarios++;
  tally.occupancy.stretches += occupancy.windowsJudged;
  tally.occupancy.againstCuts += occupancy.stale.judged;
  tally.occupancy.cutsChecked += occupancy.stale.cutsChecked;
}

/** Add `more` into `tally`: the tally of two disjoint sets of scenarios. */
export function addTally(tally: FaultTally, more: FaultTally): void {
  const add = <K extends string>(into: Record<K, number>, from: Record<K, number>): void => {
    for (const [key, n] of Object.entries(from) as [K, number][]) into[key] = (into[key] ?? 0) + n;
  };
  tally.generated += more.generated;
  tally.shrinkCandidates += more.shrinkCandidates;
  add(tally.byMix, more.byMix);
  add(tally.requested, more.requested);
  add(tally.started, more.started);
  add(tally.deathsByRole, more.deathsByRole);
  add(tally.drops, more.drops);
  tally.duplicatedMessages += more.duplicatedMessages;
  tally.deliveries += more.deliveries;
  add(tally.occupancy, more.occupancy);
}

export function emptyTally(): FaultTally {
  const zeroKinds = (): Record<FaultKind, number> =>
    Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<FaultKind, number>;
  return {
    generated: 0,
    shrinkCandidates: 0,
    byMix: Object.fromEntries(faultMixes.map((m) => [m, 0])) as Record<FaultMix, number>,
    requested: zeroKinds(),
    started: zeroKinds(),
    deathsByRole: { frontend: 0, dispatcher: 0, store: 0 },
    drops: {},
    duplicatedMessages: 0,
    deliveries: 0,
    occupancy: { scenarios: 0, stretches: 0, againstCuts: 0, cutsChecked: 0 },
  };
}

/** The tally as a few readable lines; every count after the first line includes the shrink candidates. */
export function formatTally(tally: FaultTally): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const list = (record: Record<string, number>): string =>
    Object.entries(record)
      .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
      .join(', ') || 'none';
  return [
    `scenarios checked    ${tally.generated.toLocaleString('en-US')} generated` +
      (tally.shrinkCandidates === 0
        ? ''
        : `, ${tally.shrinkCandidates.toLocaleString('en-US')} more while shrinking the failure`) +
      `; by fault mix: ${list(tally.byMix)}`,
    `faults that fired    ${list(tally.started)}`,
    `deaths by role       ${list(tally.deathsByRole)}`,
    `messages dropped     ${list(tally.drops)}; duplicated ${tally.duplicatedMessages.toLocaleString('en-US')}`,
    `deliveries checked   ${tally.deliveries.toLocaleString('en-US')}`,
    `viewer counts        judged in ${n(tally.occupancy.scenarios)} scenarios: ${n(tally.occupancy.stretches)} quiet stretches, ${n(tally.occupancy.againstCuts)} counts against a partition, ${n(tally.occupancy.cutsChecked)} partitions' stale checks`,
  ].join('\n');
}
