/**
 * The faults of a run: the scenario's schedule plus the faults drawn at its random rates (from the
 * fault stream only, so shrinking the workload never reshuffles them), numbered from 1 in time
 * order. Each starts at its time and, unless it is a kill without restart, ends after its duration;
 * both are facts, and each is applied through the verbs of the part it hits: a node is killed and
 * restarted (its frontend's connections are lost with it), the network partitions and repairs,
 * isolates and releases, storms and bursts.
 */
import { assert, unreachable, usOfMs, type Ms } from '../../core/index.ts';
import type { Rng } from '../rng.ts';
import { faultKinds, nodeIds, type Fault, type FaultKind, type Scenario } from '../scenario.ts';
import type { Agenda, Item } from './agenda.ts';
import type { Clients } from './clients.ts';
import type { Network } from './network.ts';
import type { Nodes } from './nodes.ts';
import { faultDurationMs } from '../settle.ts';

export class Faults {
  /** The whole schedule, random faults drawn, in time order; fault `f` is `schedule[f - 1]`. */
  readonly schedule: Fault[];
  readonly counts = Object.fromEntries(faultKinds.map((kind) => [kind, 0])) as Record<FaultKind, number>;

  constructor(
    private readonly agenda: Agenda,
    scenario: Scenario,
    rng: Rng,
    private readonly nodes: Nodes,
    private readonly network: Network,
    private readonly clients: Clients,
  ) {
    this.schedule = faultSchedule(scenario, rng);
  }

  /** Schedule every fault's start. */
  start(): void {
    this.schedule.forEach((fault, i) =>
      this.agenda.schedule({ at: usOfMs(fault.atMs), kind: 'fault', f: i + 1, phase: 'start' }),
    );
  }

  onFault({ f, phase }: Extract<Item, { kind: 'fault' }>): void {
    const fault = this.schedule[f - 1];
    assert(fault !== undefined, `unknown fault #${f}`);
    this.agenda.emit({ kind: 'fault', t: this.agenda.now, f, phase, fault });
    if (phase === 'start') {
      this.counts[fault.kind]++;
      const lastsMs = faultDurationMs(fault);
      if (lastsMs !== undefined)
        this.agenda.schedule({ at: this.agenda.now + usOfMs(lastsMs), kind: 'fault', f, phase: 'end' });
    }
    const starts = phase === 'start';
    switch (fault.kind) {
      case 'kill': {
        const node = this.nodes.get(fault.node);
        if (!starts) this.nodes.restart(node);
        else if (this.nodes.kill(node) && node.role === 'frontend') this.clients.frontendLost(node);
        return;
      }
      case 'partition':
        if (starts) this.network.partition(f, fault.between, fault.oneWay === true);
        else this.network.repair(f);
        return;
      case 'isolate': {
        const { id } = this.nodes.get(fault.node);
        if (starts) this.network.isolate(f, id);
        else this.network.release(f, id);
        return;
      }
      case 'jitter-storm':
        if (starts) this.network.beginStorm(f, fault);
        else this.network.endStorm(f);
        return;
      case 'loss-burst':
        if (starts) this.network.beginBurst(f, fault);
        else this.network.endBurst(f);
        return;
      default:
        return unreachable(fault);
    }
  }
}

/**
 * The whole schedule of a run: the scenario's faults and those drawn at its random rates from `rng`
 * (the run's `faults` stream), in time order. A chaos run of the same scenario and seed injects
 * exactly these.
 */
export function faultSchedule(scenario: Scenario, rng: Rng): Fault[] {
  return [...scenario.faults, ...drawRandomFaults(scenario, rng)].sort((a, b) => a.atMs - b.atMs);
}

/** Faults drawn at the scenario's random rates, from the fault stream only. */
export function drawRandomFaults(scenario: Scenario, rng: Rng): Fault[] {
  const rates = scenario.randomFaults;
  if (rates === null) return [];
  const nodes = nodeIds(scenario).map((n) => n.id);
  const dcs = scenario.topology.datacenters.map((dc) => dc.name);
  const faults: Fault[] = [];
  const duration = (): Ms => rng.int(rates.durationMs.min, rates.durationMs.max);
  // Times accumulate in fractional milliseconds and are floored when used.
  const times = (perMinute: number): Ms[] => {
    const out: Ms[] = [];
    if (perMinute <= 0) return out;
    for (
      let t = rng.intervalUs(perMinute / 60) / 1000;
      t < scenario.durationMs;
      t += rng.intervalUs(perMinute / 60) / 1000
    )
      out.push(Math.floor(t));
    return out;
  };
  for (const atMs of times(rates.killsPerMinute))
    faults.push({ kind: 'kill', atMs, node: rng.pick(nodes), restartAfterMs: duration() });
  if (dcs.length > 1) {
    for (const atMs of times(rates.partitionsPerMinute)) {
      const a = rng.pick(dcs);
      const b = rng.pick(dcs.filter((dc) => dc !== a));
      faults.push({
        kind: 'partition',
        atMs,
        between: [a, b],
        oneWay: rng.chance(300_000),
        repairAfterMs: duration(),
      });
    }
  }
  for (const atMs of times(rates.isolationsPerMinute))
    faults.push({ kind: 'isolate', atMs, node: rng.pick(nodes), releaseAfterMs: duration() });
  for (const atMs of times(rates.jitterStormsPerMinute)) {
    faults.push({
      kind: 'jitter-storm',
      atMs,
      durationMs: duration(),
      extraLatency: { baseUs: 20_000, jitterUs: 20_000 },
    });
  }
  for (const atMs of times(rates.lossBurstsPerMinute))
    faults.push({ kind: 'loss-burst', atMs, durationMs: duration(), lossPerMillion: 200_000 });
  return faults;
}
