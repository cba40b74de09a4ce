/**
 * Coverage marks, the "sometimes" assertions: decision points of the core that a default property
 * run must reach. An invariant says what must never happen; a mark says what must happen at least
 * once in a thousand generated scenarios. Without marks a generator that stopped reaching a full
 * store or a lapsed lease would leave every invariant holding, vacuously, over the easy paths.
 *
 * Each mark is one of the core's decision-point counters (`increment(state.counters, ...)` in
 * core/), read from the report's `counters`, which sums them per role over every node and
 * incarnation. A mark fired in a scenario when its counter is above zero there.
 *
 * Rules: marks are judged only over a whole run that kept every property (a failing run stops
 * early, and a shard sees a slice), and only from `marksJudgedFromRuns` scenarios on: a shorter
 * run may miss a rare mark by chance, so it warns instead of failing. A mark names the delivery
 * modes whose runs must reach it (`marksOf`): best-effort's history, warnings and lapse notices
 * have no place in reliable mode, whose streams, gaps and retried deliveries have none in
 * best-effort.
 */
import type { DeliveryMode } from '../core/index.ts';
import type { Report } from '../sim/index.ts';

export type MarkRole = keyof Report['counters'];

export interface Mark {
  /** Kebab-case, as printed and as keyed in `--json`. */
  name: string;
  role: MarkRole;
  /** The counter's name in that role's counters. */
  counter: string;
  /** What it means that the mark fired, in a few words. */
  says: string;
  /** The delivery modes whose runs must reach it; every mode when absent. */
  modes?: readonly DeliveryMode[];
}

/** How often a mark fired: its counter summed over the scenarios, and the scenarios it fired in. */
export interface MarkCount {
  count: number;
  scenarios: number;
}
export type MarkCounts = Record<string, MarkCount>;

/** A run of fewer scenarios only warns about marks that did not fire. */
export const marksJudgedFromRuns = 1_000;

const bestEffort: readonly DeliveryMode[] = ['best-effort'];
const reliable: readonly DeliveryMode[] = ['reliable'];

/**
 * Every decision point a `stadium check` must reach in one mode or both (README, Property checks,
 * lists them); `marksOf(mode)` are a run's.
 */
export const marks: readonly Mark[] = [
  // The subscription store.
  {
    name: 'tombstone-refused-write',
    role: 'store',
    counter: 'writes-refused-by-tombstone',
    says: 'a tombstone refused an older write, so a late renewal did not revive a removed lease',
  },
  {
    name: 'tombstone-overwritten',
    role: 'store',
    counter: 'tombstones-overwritten',
    says: 'a newer write replaced a tombstone: a frontend subscribed again after leaving',
  },
  {
    name: 'older-write-refused',
    role: 'store',
    counter: 'writes-older-generation',
    says: 'a write older than the live lease it would replace was refused',
  },
  {
    name: 'tombstone-forgotten',
    role: 'store',
    counter: 'tombstones-forgotten',
    says: 'a tombstone outlived its time and was forgotten',
  },
  { name: 'store-full', role: 'store', counter: 'rejected-full', says: 'the store answered full' },
  {
    name: 'renewal-partly-refused',
    role: 'store',
    counter: 'renewals-partly-refused',
    says: 'a renewal found room for some topics only: written, the rest refused',
  },
  { name: 'lease-expired', role: 'store', counter: 'leases-expired', says: 'a lease expired unrenewed' },
  {
    name: 'lapsed-lease-regranted',
    role: 'store',
    counter: 'lapsed-leases-regranted',
    says: 'a renewal came after its lease had lapsed and was granted afresh',
  },
  // The frontend.
  {
    name: 'connection-refused',
    role: 'frontend',
    counter: 'client-error-frontend-full',
    says: 'a frontend at its connection limit refused a connection',
  },
  {
    name: 'subscribe-refused',
    role: 'frontend',
    counter: 'client-error-too-many-topics',
    says: 'a connection at its topic limit was refused one more',
  },
  {
    name: 'renewal-split',
    role: 'frontend',
    counter: 'renewals-split',
    says: 'a renewal had more topics than one request holds and went out in batches',
  },
  {
    name: 'lease-request-retried',
    role: 'frontend',
    counter: 'lease-requests-retried',
    says: 'a subscribe or renewal went unanswered and was retried at another dispatcher',
  },
  {
    name: 'lease-request-exhausted',
    role: 'frontend',
    counter: 'lease-requests-exhausted',
    says: 'a subscribe or renewal ran out of attempts',
  },
  {
    name: 'registration-lapsed',
    role: 'frontend',
    counter: 'registrations-lapsed',
    says: "a frontend learnt its registration had lapsed and told the topic's viewers",
    modes: bestEffort,
  },
  {
    name: 'store-epoch-renewal',
    role: 'frontend',
    counter: 'store-epoch-renewals',
    says: 'a frontend renewed every topic because the store had lost its leases',
  },
  {
    name: 'duplicate-dropped',
    role: 'frontend',
    counter: 'duplicate-events',
    says: 'a frontend recognised an event it had delivered and dropped it',
  },
  {
    name: 'history-evicted',
    role: 'frontend',
    counter: 'history-events-evicted',
    says: "an event left a frontend's bounded history",
    modes: bestEffort,
  },
  {
    name: 'history-topic-evicted',
    role: 'frontend',
    counter: 'history-topics-evicted',
    says: "a topic's history left a frontend that kept too many topics",
    modes: bestEffort,
  },
  {
    name: 'resume-replayed',
    role: 'frontend',
    counter: 'resumes-replayed',
    says: 'a resuming viewer got what it missed from the history',
    modes: bestEffort,
  },
  {
    name: 'resume-gap-notice',
    role: 'frontend',
    counter: 'resumes-without-history',
    says: 'a resume fell back to a gap notice: the history no longer held its last event',
    modes: bestEffort,
  },
  // The dispatcher.
  {
    name: 'forward-retried',
    role: 'dispatcher',
    counter: 'forwards-retried',
    says: 'a forward to a peer datacenter went unacknowledged and was retried',
  },
  {
    name: 'forward-exhausted',
    role: 'dispatcher',
    counter: 'forwards-exhausted',
    says: 'a forward ran out of attempts',
    modes: bestEffort,
  },
  {
    name: 'every-peer-suspected',
    role: 'dispatcher',
    counter: 'every-peer-suspected',
    says: 'every dispatcher of a peer datacenter was suspected, and one was tried anyway',
  },
  {
    name: 'store-timeout',
    role: 'dispatcher',
    counter: 'store-timeouts',
    says: 'a store request went unanswered in time',
  },
  {
    name: 'store-epoch-change',
    role: 'dispatcher',
    counter: 'store-epoch-changes',
    says: 'a dispatcher saw its store come back empty, under a new epoch',
  },
  {
    name: 'publish-warned',
    role: 'dispatcher',
    counter: 'publishes-warned-store-rebuilding',
    says: 'a publish was answered with a warning that the store was rebuilding',
    modes: bestEffort,
  },
  {
    name: 'publish-warned-lapsed',
    role: 'dispatcher',
    counter: 'publishes-warned-frontend-lapsed',
    says: "a publish was answered with a warning that a frontend's lease had lapsed",
    modes: bestEffort,
  },
  // Viewer counts, in both modes.
  {
    name: 'occupancy-told',
    role: 'frontend',
    counter: 'occupancy-sent',
    says: "a frontend told watchers a topic's viewer count",
  },
  {
    name: 'occupancy-renewal',
    role: 'frontend',
    counter: 'occupancy-renewals',
    says: 'a frontend renewed between full renewals, to report a changed count or refresh a watched one',
  },
  {
    name: 'peer-totals-kept',
    role: 'store',
    counter: 'remote-totals-kept',
    says: "a store kept a peer datacenter's viewer totals",
  },
  // Reliable mode: the frontend's streams.
  {
    name: 'resume-caught-up',
    role: 'frontend',
    counter: 'events-replayed',
    says: 'a resuming viewer was caught up alone, from recent events or the history, before it joined',
    modes: reliable,
  },
  {
    name: 'tail-noticed',
    role: 'frontend',
    counter: 'tails-noticed',
    says: "a renewal's answer named a head beyond the stream: the last deliveries were lost, and read",
    modes: reliable,
  },
  {
    name: 'stream-epoch-change',
    role: 'frontend',
    counter: 'stream-epoch-changes',
    says: 'a stream moved to a new store epoch (the store lost its data) and read it from its start',
    modes: reliable,
  },
  {
    name: 'gap-trimmed',
    role: 'frontend',
    counter: 'gap-notices-trimmed',
    says: 'viewers were told of seqs the history no longer held',
    modes: reliable,
  },
  {
    name: 'gap-epoch',
    role: 'frontend',
    counter: 'gap-notices-epoch',
    says: 'viewers were told the rest of an epoch the store lost will not come',
    modes: reliable,
  },
  {
    name: 'reorder-held',
    role: 'frontend',
    counter: 'events-held',
    says: 'a delivery beyond a gap waited in the reorder buffer',
    modes: reliable,
  },
  {
    name: 'reorder-buffer-full',
    role: 'frontend',
    counter: 'reorder-buffer-full',
    says: 'a full reorder buffer dropped a delivery, for a read to bring again',
    modes: reliable,
  },
  {
    name: 'history-read-failed',
    role: 'frontend',
    counter: 'history-reads-failed',
    says: 'a history read went unanswered or was refused, and was tried again',
    modes: reliable,
  },
  // Reliable mode: the dispatcher's deliveries, forwards and answers.
  {
    name: 'delivery-retried',
    role: 'dispatcher',
    counter: 'deliveries-retried',
    says: 'a delivery went unacknowledged and was sent again',
    modes: reliable,
  },
  {
    name: 'delivery-exhausted',
    role: 'dispatcher',
    counter: 'deliveries-exhausted',
    says: "a delivery ran out of attempts (the frontend's renewal brings the tail back)",
    modes: reliable,
  },
  {
    name: 'forward-joined',
    role: 'dispatcher',
    counter: 'forwards-joined',
    says: 'an event accepted again while its forward was in flight waited on that forward',
    modes: reliable,
  },
  {
    name: 'forward-expired',
    role: 'dispatcher',
    counter: 'forwards-expired',
    says: 'a forward was given up at the end of its window (forward-expired)',
    modes: reliable,
  },
  {
    name: 'answer-forward-pending',
    role: 'dispatcher',
    counter: 'answers-with-forward-pending',
    says: 'a publish was answered OK with forward-pending: a peer had not acknowledged in time',
    modes: reliable,
  },
];

/** The marks a run in `mode` must reach. */
export function marksOf(mode: DeliveryMode): readonly Mark[] {
  return marks.filter((mark) => mark.modes === undefined || mark.modes.includes(mode));
}

export function emptyMarkCounts(declared: readonly Mark[]): MarkCounts {
  return Object.fromEntries(declared.map((mark) => [mark.name, { count: 0, scenarios: 0 }]));
}

/** Add one scenario's counters to `counts`. */
export function countMarks(
  declared: readonly Mark[],
  counters: Report['counters'],
  counts: MarkCounts,
): void {
  for (const mark of declared) {
    const n = counters[mark.role][mark.counter] ?? 0;
    const sum = counts[mark.name];
    if (sum === undefined || n === 0) continue;
    sum.count += n;
    sum.scenarios++;
  }
}

/** Add `more` into `counts`: the marks of two disjoint sets of scenarios. */
export function addMarkCounts(counts: MarkCounts, more: MarkCounts): void {
  for (const [name, { count, scenarios }] of Object.entries(more)) {
    const sum = counts[name];
    if (sum === undefined) continue;
    sum.count += count;
    sum.scenarios += scenarios;
  }
}

/** The declared marks that never fired, by name. */
export function unreachedMarks(declared: readonly Mark[], counts: MarkCounts): string[] {
  return declared.filter((mark) => (counts[mark.name]?.count ?? 0) === 0).map((mark) => mark.name);
}

/** One line a mark: its name, the scenarios it fired in, its count, and the counter it reads. */
export function formatMarks(declared: readonly Mark[], counts: MarkCounts): string {
  const nameWidth = Math.max(4, ...declared.map((mark) => mark.name.length));
  const rows = declared.map((mark) => {
    const { count, scenarios } = counts[mark.name] ?? { count: 0, scenarios: 0 };
    return [
      mark.name.padEnd(nameWidth),
      scenarios.toLocaleString('en-US').padStart(9),
      count.toLocaleString('en-US').padStart(11),
      `  ${mark.role} ${mark.counter}${count === 0 ? '   NEVER' : ''}`,
    ].join('');
  });
  return [
    `${'mark'.padEnd(nameWidth)}${'scenarios'.padStart(9)}${'count'.padStart(11)}  counter`,
    ...rows,
  ].join('\n');
}
