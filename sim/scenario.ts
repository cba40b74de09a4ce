/**
 * A scenario is data: topology, network, workload, faults, duration, the delivery deadline and the
 * delivery mode (best-effort unless it says `"mode": "reliable"`). It
 * comes from a JSON file or a named scenario, and is validated field by field (`scenario-parse.ts`)
 * so a mistake is reported by its path (`faults[2].node: unknown node "dc-z/frontend-1"`), never
 * as a crash. A field the format does not have is refused at every depth, with its close match,
 * since a misspelt optional field would otherwise be ignored and its default silently used.
 *
 * Durations are integer milliseconds (`...Ms`); latencies are integer microseconds (`...Us`)
 * because intra-datacenter hops are well under a millisecond. Probabilities are integers per
 * million (`...PerMillion`), so a scenario means the same thing on every machine.
 */
import type { DeliveryMode, FrontendLimits, StoreLimits } from '../core/index.ts';

/** A latency draw: `baseUs` plus an exponential tail of mean `jitterUs`, capped at `baseUs + 20 * jitterUs`. */
export interface Latency {
  baseUs: number;
  jitterUs: number;
}

export interface LinkClass {
  latency: Latency;
  lossPerMillion: number;
  duplicatePerMillion: number;
  /** FIFO links never reorder: a message never overtakes an earlier one on the same (source, target) pair. */
  fifo: boolean;
}

export interface Network {
  /** Client links are TCP connections: ordered and lossless while the connection lives; only latency varies. */
  client: { latency: Latency };
  intraDc: LinkClass;
  crossDc: LinkClass;
}

export interface TopicLoad {
  name: string;
  viewers: number;
  /** Publishes per second on this topic, spread evenly over the datacenters as origins. */
  publishesPerSecond: number;
  /**
   * With `quietMs` > 0 the topic publishes in bursts: `burstMs` of publishing, then `quietMs` of
   * silence, from `publishFromMs` on (a topic quiet for longer than a lease). 0: steady.
   */
  burstMs: number;
  quietMs: number;
}

export interface Workload {
  topics: TopicLoad[];
  /** Viewers connect uniformly at random over `[0, joinOverMs)`. */
  joinOverMs: number;
  /** Publishing starts at this time, so viewers are in place first. */
  publishFromMs: number;
  /** Each viewer leaves its topic at this rate and rejoins after `rejoinAfterMs`. 0 disables churn. */
  churnPerViewerPerMinute: number;
  rejoinAfterMs: number;
  /** Each viewer disconnects for good at this rate (per minute); 0: viewers stay. */
  leavePerViewerPerMinute: number;
  /**
   * Each viewer drops its connection at this rate (per minute) and reconnects after the backoff,
   * to another frontend of its datacenter, resuming from the last event it received. 0: never.
   */
  reconnectPerViewerPerMinute: number;
  /** A viewer whose connection drops reconnects to a frontend of its datacenter after a jittered backoff. */
  reconnectBackoffMs: { min: number; max: number };
  payloadBytes: number;
  /**
   * One viewer in this many, in every datacenter, asks for its topics' viewer counts (`occupancy`
   * on its subscribe and resume); 0: none does. Chosen by the viewer's number, never drawn, so the
   * workload's random stream is the same whoever watches.
   */
  occupancyWatchersEvery: number;
}

export type Fault =
  | { kind: 'kill'; atMs: number; node: string; restartAfterMs?: number }
  | { kind: 'partition'; atMs: number; between: [string, string]; oneWay?: boolean; repairAfterMs: number }
  | { kind: 'isolate'; atMs: number; node: string; releaseAfterMs: number }
  | { kind: 'jitter-storm'; atMs: number; durationMs: number; extraLatency: Latency; dc?: string }
  | { kind: 'loss-burst'; atMs: number; durationMs: number; lossPerMillion: number; dc?: string };

export type FaultKind = Fault['kind'];
export const faultKinds: readonly FaultKind[] = [
  'kill',
  'partition',
  'isolate',
  'jitter-storm',
  'loss-burst',
];

/** Faults drawn at random from the fault stream, per simulated minute. */
export interface RandomFaults {
  killsPerMinute: number;
  partitionsPerMinute: number;
  isolationsPerMinute: number;
  jitterStormsPerMinute: number;
  lossBurstsPerMinute: number;
  /** How long a drawn fault lasts before restart/repair/release. */
  durationMs: { min: number; max: number };
}

/** Role settings the scenario may tune; defaults are the production defaults scaled for simulation. */
export interface RoleSettings {
  leaseMs: number;
  renewEveryMs: number;
  leaseRequestTimeoutMs: number;
  leaseAttemptsMax: number;
  storeRequestTimeoutMs: number;
  forwardTimeoutMs: number;
  forwardAttemptsMax: number;
  suspectMs: number;
  /** Reliable: how long a dispatcher's delivery waits for the frontend's ack before it is sent again. */
  deliverTimeoutMs: number;
  /** Reliable: tries per delivery; then the frontend catches up from the history. */
  deliverAttemptsMax: number;
  /** Reliable: how long a forward to a peer datacenter is retried (with failover) before it is a drop. */
  forwardWindowMs: number;
  /** Reliable: how long a publish's answer waits for the peer datacenters' acks before it goes with a warning. */
  forwardAckWaitMs: number;
  /** Reliable: how long a frontend lets a gap in the seqs wait for its delivery before it reads the history. */
  gapWaitMs: number;
  /** Reliable: how long a frontend's history read waits for its answer. */
  readTimeoutMs: number;
  /**
   * Occupancy: how often frontends report changed viewer counts and tell watchers, and dispatchers
   * send their datacenter's totals to peers (0: occupancy is off). A peer datacenter not heard from
   * for three intervals is stale (sim/occupancy-bounds.ts).
   */
  occupancyEveryMs: number;
  frontendLimits: Partial<FrontendLimits>;
  /**
   * The store's named limits (topics, frontends per topic, lease and tombstone lengths, and in
   * reliable mode the per-topic histories: historyEventsMax, historyAgeMs, historyIdsMax...).
   */
  storeLimits: Partial<StoreLimits>;
}

/**
 * The role settings that only reliable mode reads. A trace's run record leaves out those at their
 * default (trace-writer.ts), so a best-effort trace reads as it did before they existed.
 */
export const reliableRoleSettings = [
  'deliverTimeoutMs',
  'deliverAttemptsMax',
  'forwardWindowMs',
  'forwardAckWaitMs',
  'gapWaitMs',
  'readTimeoutMs',
] as const satisfies readonly (keyof RoleSettings)[];

export interface Scenario {
  name: string;
  description: string;
  /** How the roles deliver: best-effort (fire and forget), or reliable (sequenced, acknowledged, retried). */
  mode: DeliveryMode;
  durationMs: number;
  /** An expected delivery that has not arrived this long after its publish is lost. */
  deliveryDeadlineMs: number;
  /** A subscription counts for an event only if it began at least this long before the publish (time to register). */
  subscribeGraceMs: number;
  topology: { datacenters: { name: string; frontends: number; dispatchers: number }[] };
  network: Network;
  workload: Workload;
  roles: RoleSettings;
  faults: Fault[];
  randomFaults: RandomFaults | null;
}

/** Node ids are `<dc>/frontend-<n>`, `<dc>/dispatcher-<n>` and `<dc>/store`, numbered from 1. */
export function nodeIds(scenario: Pick<Scenario, 'topology'>): {
  id: string;
  dc: string;
  role: 'frontend' | 'dispatcher' | 'store';
}[] {
  const nodes: { id: string; dc: string; role: 'frontend' | 'dispatcher' | 'store' }[] = [];
  for (const dc of scenario.topology.datacenters) {
    for (let i = 1; i <= dc.frontends; i++)
      nodes.push({ id: `${dc.name}/frontend-${i}`, dc: dc.name, role: 'frontend' });
    for (let i = 1; i <= dc.dispatchers; i++) {
      nodes.push({ id: `${dc.name}/dispatcher-${i}`, dc: dc.name, role: 'dispatcher' });
    }
    nodes.push({ id: `${dc.name}/store`, dc: dc.name, role: 'store' });
  }
  return nodes;
}

/** A scenario file or value that breaks the rules; `issues` names each bad field by its path. */
export class ScenarioError extends Error {
  override name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly issues: string[],
  ) {
    super(`${source}: invalid scenario:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
  }
}

export const defaultRoles: RoleSettings = {
  leaseMs: 5_000,
  renewEveryMs: 1_500,
  leaseRequestTimeoutMs: 200,
  leaseAttemptsMax: 3,
  storeRequestTimeoutMs: 100,
  forwardTimeoutMs: 300,
  forwardAttemptsMax: 3,
  suspectMs: 5_000,
  // A delivery crosses one intra-datacenter link each way, as a lease request does twice.
  deliverTimeoutMs: 200,
  deliverAttemptsMax: 3,
  // Longer than the partitions scenarios and the property runs make (5 s at most), shorter than a run.
  forwardWindowMs: 10_000,
  // Two forward timeouts: a forward that fails over to another peer dispatcher is still waited for.
  forwardAckWaitMs: 600,
  gapWaitMs: 50,
  // A history read goes frontend -> dispatcher -> store and back, as a lease request does.
  readTimeoutMs: 200,
  occupancyEveryMs: 1_000,
  frontendLimits: {},
  storeLimits: {},
};

const defaultLink = (baseUs: number, jitterUs: number): LinkClass => ({
  latency: { baseUs, jitterUs },
  lossPerMillion: 0,
  duplicatePerMillion: 0,
  fifo: false,
});

export const defaultNetwork: Network = {
  client: { latency: { baseUs: 5_000, jitterUs: 2_000 } },
  intraDc: defaultLink(200, 100),
  crossDc: defaultLink(30_000, 5_000),
};
