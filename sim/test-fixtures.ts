/** Small scenarios for tests and property runs: two datacenters, a few nodes, a few hundred viewers. */
import { parseScenario } from './scenario-parse.ts';
import type { Fault, Scenario } from './scenario.ts';

export interface SmallScenarioOptions {
  name?: string;
  durationMs?: number;
  faults?: Fault[];
  viewers?: number;
  publishesPerSecond?: number;
  datacenters?: number;
  frontends?: number;
  dispatchers?: number;
  lossPerMillion?: number;
  duplicatePerMillion?: number;
  churnPerViewerPerMinute?: number;
  rejoinAfterMs?: number;
  randomFaults?: Scenario['randomFaults'];
}

export function smallScenario(options: SmallScenarioOptions = {}): Scenario {
  const dcs = Array.from({ length: options.datacenters ?? 2 }, (_, i) => ({
    name: `dc-${String.fromCharCode(97 + i)}`,
    frontends: options.frontends ?? 2,
    dispatchers: options.dispatchers ?? 2,
  }));
  const link = (baseUs: number, jitterUs: number): unknown => ({
    latency: { baseUs, jitterUs },
    lossPerMillion: options.lossPerMillion ?? 0,
    duplicatePerMillion: options.duplicatePerMillion ?? 0,
    fifo: false,
  });
  return parseScenario(
    {
      name: options.name ?? 'small',
      durationMs: options.durationMs ?? 10_000,
      deliveryDeadlineMs: 2_000,
      subscribeGraceMs: 1_000,
      topology: { datacenters: dcs },
      network: {
        client: { latency: { baseUs: 2_000, jitterUs: 1_000 } },
        intraDc: link(200, 100),
        crossDc: link(20_000, 5_000),
      },
      workload: {
        topics: [
          {
            name: 'live',
            viewers: options.viewers ?? 60,
            publishesPerSecond: options.publishesPerSecond ?? 10,
          },
          { name: 'chat', viewers: Math.ceil((options.viewers ?? 60) / 3), publishesPerSecond: 2 },
        ],
        joinOverMs: 500,
        publishFromMs: 1_500,
        churnPerViewerPerMinute: options.churnPerViewerPerMinute ?? 0,
        rejoinAfterMs: options.rejoinAfterMs ?? 1_000,
        reconnectBackoffMs: { min: 50, max: 500 },
        payloadBytes: 48,
      },
      faults: options.faults ?? [],
      randomFaults: options.randomFaults ?? null,
    },
    'small scenario',
  );
}

/**
 * The scenario every planted bug is run on by scripts/trace-baseline.ts and the trace tests: a
 * frontend death and a partition, with churn, loss and duplication.
 */
export function plantedBugScenario(): Scenario {
  return smallScenario({
    name: 'planted',
    durationMs: 8_000,
    churnPerViewerPerMinute: 6,
    lossPerMillion: 2_000,
    duplicatePerMillion: 5_000,
    faults: [
      { kind: 'kill', atMs: 3_000, node: 'dc-a/frontend-1', restartAfterMs: 1_000 },
      { kind: 'partition', atMs: 4_000, between: ['dc-a', 'dc-b'], repairAfterMs: 1_500 },
    ],
  });
}
