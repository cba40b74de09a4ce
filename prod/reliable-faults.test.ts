// Goal: reliable mode keeps its promises on real processes through every fault it is measured under: no
// acknowledged publish lost (unless a gap notice the viewer got explains it), no duplicate, no
// order inversion, no seq skipped silently and no viewer left behind, in both datacenters.
// Method: one deployment (prod/reliable-deployment.ts: 2 datacenters, each its own redis-server, 2
// dispatchers and 2 frontends in `--mode reliable`, 1.5 s lease); per fault a topic of its own, an
// SSE and a WebSocket viewer starting on every frontend (they reconnect within their datacenter and
// resume), a publish every 50 ms to every dispatcher in turn, the fault injected for real (SIGKILL,
// SIGSTOP/SIGCONT, Redis restarted empty, a datacenter's processes killed and restarted), then a
// drain; prod/reliable-check.ts judges (its own test shows each count failing on a planted bug).
// Evidence that each fault took effect is asserted too. The command line is checked alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentDefaults, startDeployment } from './reliable-deployment.ts';
import type { Deployment } from './reliable-deployment.ts';
import { ReliableFaultsUsageError, parseReliableFaultsArgs } from './reliable-faults.ts';
import { formatFaultRun } from './reliable-faults-format.ts';
import { reliableFaults } from './reliable-faults-inject.ts';
import type { ReliableFault } from './reliable-faults-inject.ts';
import { faultRunDefaults, runFault } from './reliable-faults-run.ts';
import type { FaultRunResult } from './reliable-faults-run.ts';
import { redisServerGate } from './test-gate.ts';

const gate = redisServerGate();
const leaseMs = 1_500;

describe('reliable-faults command line', () => {
  it('reads the faults (one, or all), the lease and the mode', () => {
    expect(parseReliableFaultsArgs(['--fault', 'all'])).toMatchObject({
      faults: [...reliableFaults],
      json: false,
      deployment: { mode: 'reliable', leaseMs: 1_500, dcs: 2, frontends: 2, dispatchers: 2 },
    });
    expect(
      parseReliableFaultsArgs(['--fault', 'frontend-freeze', '--lease-ms', '2000', '--json']),
    ).toMatchObject({
      faults: ['frontend-freeze'],
      json: true,
      deployment: { leaseMs: 2_000 },
      run: { timing: { freezeMs: 5_000 } },
    });
  });

  it('bad input is refused naming the problem', () => {
    expect(() => parseReliableFaultsArgs([])).toThrow(ReliableFaultsUsageError);
    expect(() => parseReliableFaultsArgs(['--fault', 'disk'])).toThrow(/--fault must be one of .*got "disk"/);
    expect(() => parseReliableFaultsArgs(['--fault', 'all', '--mode', 'fast'])).toThrow(
      /--mode must be one of best-effort, reliable, got "fast"/,
    );
    expect(() => parseReliableFaultsArgs(['--fault', 'all', '--lease-ms', '1s'])).toThrow(/--lease-ms/);
    expect(parseReliableFaultsArgs(['--help'])).toBe('help');
  });
});

/** The viewers that started on a node's frontend (`dc-a/frontend-1` -> `dc-a/frontend-1/...`). */
function viewersOf(result: FaultRunResult, prefix: string): string[] {
  return Object.keys(result.evidence.reconnects).filter((name) => name.startsWith(prefix));
}

/** That the fault really happened, as the viewers and publishes saw it. */
function tookEffect(fault: ReliableFault, result: FaultRunResult): void {
  const { evidence, publishes } = result;
  switch (fault) {
    case 'dispatcher-kill':
      // Publishes to the dead dispatcher fail; the others go on.
      expect(publishes.failed).toBeGreaterThan(0);
      break;
    case 'frontend-kill':
      for (const name of viewersOf(result, 'dc-a/frontend-1/')) {
        expect(evidence.reconnects[name], name).toBeGreaterThanOrEqual(1);
      }
      break;
    case 'frontend-freeze':
      for (const name of viewersOf(result, 'dc-a/frontend-1/')) {
        expect(evidence.longestSilenceMs[name], name).toBeGreaterThan(leaseMs);
      }
      break;
    case 'redis-restart':
      expect(result.epochsSeen['dc-a']).toBeGreaterThanOrEqual(2);
      break;
    case 'none':
      break;
    case 'dc-restart':
      for (const name of viewersOf(result, 'dc-b/')) {
        expect(evidence.reconnects[name], name).toBeGreaterThanOrEqual(1);
      }
      expect(publishes.failed).toBeGreaterThan(0);
      break;
  }
}

if (!gate.up && !gate.required) {
  it.skip(gate.skipMessage, () => {});
} else {
  describe('reliable mode on real processes: 2 datacenters x (redis-server, 2 dispatchers, 2 frontends)', () => {
    let deployment: Deployment | null = null;
    beforeAll(async () => {
      if (!gate.up) throw new Error(gate.requiredMessage);
      deployment = await startDeployment({ ...deploymentDefaults(), leaseMs });
    }, 120_000);
    afterAll(async () => {
      await deployment?.stop();
    }, 30_000);

    for (const fault of reliableFaults) {
      it(`${fault}: every acknowledged publish reaches every viewer or a gap notice says why; no duplicate, inversion or silent skip`, async () => {
        const result = await runFault(deployment!, fault, faultRunDefaults(leaseMs));
        const report = formatFaultRun(result);
        tookEffect(fault, result);
        const totals = result.check.totals;
        expect(totals.owed, report).toBeGreaterThan(0);
        expect(totals.received, report).toBeGreaterThan(0);
        const { lost, duplicates, inversions, holes, behind } = totals;
        expect({ lost, duplicates, inversions, holes, behind }, report).toEqual({
          lost: 0,
          duplicates: 0,
          inversions: 0,
          holes: 0,
          behind: 0,
        });
      }, 150_000);
    }
  });
}
