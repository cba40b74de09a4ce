/**
 * A chaos run's faults: the simulator's schedule for the scenario and seed (sim `faultSchedule`),
 * injected for real at its moments, each start and end a `fault` fact as in the simulator.
 *
 * - kill / restart a frontend or dispatcher: SIGKILL, then a fresh process (its next incarnation),
 *   with `node` facts; a datacenter's store (`<dc>/store`): its redis-server killed, and started
 *   again empty.
 * - isolate / release a node: its links cut at the fault proxies; a store, which sits behind no
 *   proxy, is frozen (SIGSTOP) instead, which its dispatchers see the same way: no answers.
 * - partition / repair, jitter storms, loss bursts: at the fault proxies (chaos/fault-proxy.ts).
 * Without proxies those network faults cannot be injected; the run refuses to start rather than
 * judge a run that lacked them (chaos/run.ts).
 */
import { unreachable, type DcId } from '../core/index.ts';
import { faultDurationMs } from '../sim/index.ts';
import type { Fact, Fault } from '../sim/index.ts';
import type { ChaosDeployment } from './deployment.ts';
import { RunTimers } from './run-timers.ts';

/** The network faults, as the fault proxies apply them. */
export interface LinkFaults {
  partition(f: number, between: readonly [DcId, DcId], oneWay: boolean): void;
  repair(f: number): void;
  isolate(f: number, node: string): void;
  release(f: number): void;
  jitterStorm(f: number, extraLatency: { baseUs: number; jitterUs: number }, dc?: DcId): void;
  calm(f: number): void;
  lossBurst(f: number, lossPerMillion: number, dc?: DcId): void;
  endBurst(f: number): void;
}

/** Whether a fault needs the fault proxies. */
export function needsProxy(fault: Fault): boolean {
  return fault.kind !== 'kill' && !(fault.kind === 'isolate' && fault.node.endsWith('/store'));
}

export class ChaosFaults {
  private readonly timers = new RunTimers();
  private readonly pending = new Set<Promise<void>>();
  /** Faults that could not be injected as asked, with why. */
  readonly problems: string[] = [];

  constructor(
    private readonly schedule: readonly Fault[],
    private readonly deployment: ChaosDeployment,
    private readonly links: LinkFaults | null,
    private readonly nowUs: () => number,
    private readonly emit: (fact: Fact) => void,
  ) {}

  start(startedAtMs: number): void {
    this.schedule.forEach((fault, i) => {
      const f = i + 1;
      this.timers.later(fault.atMs - startedAtMs, () => this.apply(f, fault, 'start'));
      const lastsMs = faultDurationMs(fault);
      if (lastsMs !== undefined)
        this.timers.later(fault.atMs + lastsMs - startedAtMs, () => this.apply(f, fault, 'end'));
    });
  }

  /** No more faults start or end; resolves when the ones under way are done. */
  async stop(): Promise<void> {
    this.timers.stop();
    await Promise.all([...this.pending]);
  }

  private apply(f: number, fault: Fault, phase: 'start' | 'end'): void {
    this.emit({ kind: 'fault', t: this.nowUs(), f, phase, fault });
    const work = this.inject(f, fault, phase === 'start').catch((error: unknown) => {
      this.problems.push(
        `fault #${f} (${fault.kind}) ${phase}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async inject(f: number, fault: Fault, starts: boolean): Promise<void> {
    const links = this.links;
    switch (fault.kind) {
      case 'kill': {
        const store = storeDc(fault.node);
        if (starts) {
          if (store === null) await this.deployment.kill(fault.node);
          else await this.deployment.killStore(store);
          this.emit({ kind: 'node', t: this.nowUs(), node: fault.node, op: 'down' });
        } else {
          if (store === null) await this.deployment.restart(fault.node);
          else await this.deployment.restartStore(store);
          this.emit({ kind: 'node', t: this.nowUs(), node: fault.node, op: 'up' });
        }
        return;
      }
      case 'isolate': {
        const store = storeDc(fault.node);
        if (store !== null) {
          if (starts) this.deployment.freezeStore(store);
          else this.deployment.thawStore(store);
          return;
        }
        if (links === null) throw new Error('no fault proxies');
        if (starts) links.isolate(f, fault.node);
        else links.release(f);
        return;
      }
      case 'partition':
        if (links === null) throw new Error('no fault proxies');
        if (starts) links.partition(f, fault.between, fault.oneWay === true);
        else links.repair(f);
        return;
      case 'jitter-storm':
        if (links === null) throw new Error('no fault proxies');
        if (starts) links.jitterStorm(f, fault.extraLatency, ...(fault.dc === undefined ? [] : [fault.dc]));
        else links.calm(f);
        return;
      case 'loss-burst':
        if (links === null) throw new Error('no fault proxies');
        if (starts) links.lossBurst(f, fault.lossPerMillion, ...(fault.dc === undefined ? [] : [fault.dc]));
        else links.endBurst(f);
        return;
      default:
        unreachable(fault);
    }
  }
}

/** The datacenter whose store `node` is, or null for a frontend or dispatcher. */
function storeDc(node: string): DcId | null {
  return node.endsWith('/store') ? node.slice(0, -'/store'.length) : null;
}
