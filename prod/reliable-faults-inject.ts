/**
 * The faults the reliable measurements inject, for real, into a running deployment
 * (prod/reliable-deployment.ts), each resolving once it has healed:
 *
 * - `dispatcher-kill`: SIGKILL dc-a/dispatcher-1; `downMs` later start it again (same port);
 *   healed once its /healthz says ok. Deliveries it had in flight are lost with it.
 * - `frontend-kill`: SIGKILL dc-a/frontend-1: its viewers' connections drop and they reconnect to
 *   the datacenter's other frontend, resuming from their cursors; `downMs` later it starts again.
 * - `frontend-freeze`: SIGSTOP dc-a/frontend-1 for `freezeMs` (past its lease), then SIGCONT;
 *   healed at SIGCONT. Its viewers stay connected, hear nothing while it is stopped, and must be
 *   caught up by it afterwards.
 * - `redis-restart`: SIGKILL dc-a's redis-server, `redisGapMs` later start it again, empty: a new
 *   store epoch, and gap notices for what the old one held are the honest answer; healed once it
 *   answers PING. The loss is reported (`storeLosses`) for the judge (prod/reliable-check.ts).
 * - `none`: nothing, for `downMs`: a control run, to tell a fault's effect from the machine's.
 * - `dc-restart`: SIGKILL every stadium process of dc-b at once (its Redis keeps running, as a
 *   separate service would), `downMs` later start them all again; healed once all are healthy.
 *   dc-b's viewers reconnect, with backoff, as its frontends come back. dc-b is out of reach
 *   (`outages`) from its processes' death until one of its dispatchers answers HTTP again: the
 *   judge excuses forwards that could not reach it within their window.
 *
 * The targets are fixed, so a soak that rotates the faults keeps some processes (dc-a's second
 * dispatcher and frontend, dc-b's Redis) alive for the whole run, where their memory can be judged.
 */
import type { ClusterNode } from './cluster.ts';
import type { DcOutage, StoreLoss } from './reliable-check.ts';
import type { Deployment } from './reliable-deployment.ts';
import { sleep } from './wait-for.ts';

export type ReliableFault =
  'dispatcher-kill' | 'frontend-kill' | 'frontend-freeze' | 'redis-restart' | 'dc-restart' | 'none';
/** The faults a reliable deployment is measured under, in the order `all` runs them (`none`, a control run, is not one). */
export const reliableFaults: readonly ReliableFault[] = [
  'dispatcher-kill',
  'frontend-kill',
  'frontend-freeze',
  'redis-restart',
  'dc-restart',
];

export interface FaultTiming {
  /** How long a killed process (or datacenter) stays down before it starts again. */
  downMs: number;
  /** How long a frozen frontend stays stopped; longer than its lease. */
  freezeMs: number;
  /** How long Redis stays dead before it restarts empty. */
  redisGapMs: number;
}

export function faultTiming(leaseMs: number): FaultTiming {
  return { downMs: 2_000, freezeMs: Math.round(leaseMs * 2.5), redisGapMs: 300 };
}

export interface InjectedFault {
  fault: ReliableFault;
  /** What was hit, for people. */
  target: string;
  atMs: number;
  healedAtMs: number;
  storeLosses: StoreLoss[];
  /** `dc-restart`: from every process of dc-b dead to the first of its dispatchers answering HTTP again. */
  outages: DcOutage[];
}

export type FaultNote = (what: string) => void;

export async function injectFault(
  deployment: Deployment,
  fault: ReliableFault,
  timing: FaultTiming,
  note: FaultNote,
): Promise<InjectedFault> {
  const [dcA, dcB] = deployment.dcs;
  if (dcA === undefined || dcB === undefined) throw new Error('the fault measurements need 2 datacenters');
  const atMs = Date.now();
  const storeLosses: StoreLoss[] = [];
  const outages: DcOutage[] = [];
  /** Kill `nodes`, start them again `downMs` later; resolves with when they were all dead. */
  const killRestart = async (nodes: ClusterNode[], reachable?: ClusterNode[]): Promise<number> => {
    await Promise.all(nodes.map((node) => deployment.cluster.kill(node, 'SIGKILL')));
    const deadAtMs = Date.now();
    note(`${nodes.map((n) => n.name).join(', ')} killed (SIGKILL)`);
    await sleep(timing.downMs);
    note(`starting ${nodes.map((n) => n.name).join(', ')} again`);
    const restarted = Promise.all(nodes.map((node) => deployment.cluster.restart(node)));
    if (reachable !== undefined) {
      const atMs = await firstAnswer(reachable.map((n) => n.url));
      note(`${reachable.map((n) => n.name).join(' or ')} answers HTTP again`);
      outages.push({ dc: reachable[0]!.dc, fromMs: deadAtMs, toMs: atMs });
    }
    await restarted;
    note(`${nodes.map((n) => n.name).join(', ')} healthy again`);
    return deadAtMs;
  };
  let target: string;
  switch (fault) {
    case 'dispatcher-kill': {
      const node = dcA.dispatchers[0]!;
      target = node.name;
      await killRestart([node]);
      break;
    }
    case 'frontend-kill': {
      const node = dcA.frontends[0]!;
      target = node.name;
      await killRestart([node]);
      break;
    }
    case 'frontend-freeze': {
      const node = dcA.frontends[0]!;
      target = node.name;
      await deployment.cluster.kill(node, 'SIGSTOP');
      note(`${node.name} frozen (SIGSTOP)`);
      await sleep(timing.freezeMs);
      await deployment.cluster.kill(node, 'SIGCONT');
      note(`${node.name} resumed (SIGCONT)`);
      break;
    }
    case 'redis-restart': {
      const redis = deployment.redis.get(dcA.name)!;
      target = `${dcA.name}/redis`;
      await redis.kill();
      storeLosses.push({ dc: dcA.name, atMs: Date.now() });
      note(`${target} killed (SIGKILL)`);
      await sleep(timing.redisGapMs);
      await redis.restart();
      note(`${target} restarted empty, answers PING`);
      break;
    }
    case 'dc-restart': {
      target = `${dcB.name} (every stadium process)`;
      await killRestart([...dcB.dispatchers, ...dcB.frontends], dcB.dispatchers);
      break;
    }
    case 'none':
      target = 'nothing (a control run)';
      await sleep(timing.downMs);
      break;
  }
  return { fault, target, atMs, healedAtMs: Date.now(), storeLosses, outages };
}

/** When the first of `urls` answers HTTP at all (any status: it is listening). */
async function firstAnswer(urls: string[]): Promise<number> {
  for (;;) {
    const answers = await Promise.all(
      urls.map((url) =>
        fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
          async (response) => {
            await response.text();
            return true;
          },
          () => false,
        ),
      ),
    );
    if (answers.some((answered) => answered)) return Date.now();
    await sleep(50);
  }
}
