// Goal: one scenario, two worlds. A short scenario (a partition between the datacenters heals, then
// a frontend dies with its viewers and restarts) runs in the simulator and on real processes (a
// redis-server per datacenter, a `stadium serve` per node, fault proxies on the node links, real
// SSE and WebSocket viewers), judged by the same checkers: no violation on the correct code, a
// planted bug found on the real processes as in the simulator, the simulator's report keys, and a
// trace that the trace reader judges again to the same verdict.
// Method: `runChaos` on chaos/short-scenario.json, seed 1, best-effort; then the same with the
// planted `corrupt-payload` bug (a frontend that alters payloads: found by integrity in both worlds).
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { redisServerGate } from '../prod/test-gate.ts';
import { checkTrace, loadScenario } from '../sim/index.ts';
import { faultProxyLinks, runChaos } from './index.ts';
import type { ChaosResult } from './index.ts';

const gate = redisServerGate();
const scenario = loadScenario(join(import.meta.dirname, 'short-scenario.json'));
const dirs = mkdtempSync(join(tmpdir(), 'stadium-chaos-test-'));

async function run(plantBug: 'corrupt-payload' | null): Promise<ChaosResult & { tracePath: string }> {
  const name = plantBug ?? 'correct';
  const tracePath = join(dirs, `${name}.jsonl`);
  const result = await runChaos({
    scenario,
    seed: '1',
    plantBug,
    viewersMax: 200,
    dir: join(dirs, name),
    tracePath,
    startLinks: faultProxyLinks,
  });
  return { ...result, tracePath };
}

const violationsOf = (counts: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));

if (!gate.up && !gate.required) {
  it.skip(gate.skipMessage, () => {});
} else {
  describe('chaos: a partition that heals and a frontend death, in the simulator and on real processes', () => {
    it('the correct core: no violation in either world, the same report keys, a trace that judges the same again', async () => {
      if (!gate.up) throw new Error(gate.requiredMessage);
      const { sim, real, tracePath } = await run(null);
      expect(violationsOf(sim.violationCounts)).toEqual({});
      expect(violationsOf(real.violationCounts)).toEqual({});
      // The faults happened for real: the partition dropped messages, the kill closed connections.
      expect(real.messages.dropped.partition ?? 0).toBeGreaterThan(0);
      expect(real.faults).toMatchObject({ partition: 1, kill: 1 });
      expect(real.connections.reconnects).toBeGreaterThan(0);
      expect(real.published).toBe(sim.published);
      expect(real.delivered).toBeGreaterThan(real.expected * 0.8);
      for (const key of Object.keys(sim)) expect(real).toHaveProperty(key);
      const again = checkTrace(tracePath);
      expect(violationsOf(again.violationCounts)).toEqual({});
      expect(again.delivered).toBe(real.delivered);
    }, 90_000);

    it('a planted bug (a frontend corrupting payloads) is found on real processes as in the simulator', async () => {
      if (!gate.up) throw new Error(gate.requiredMessage);
      const { sim, real } = await run('corrupt-payload');
      expect(sim.violationCounts.integrity).toBeGreaterThan(0);
      expect(real.violationCounts.integrity).toBeGreaterThan(0);
      expect(real.ok).toBe(false);
    }, 90_000);
  });
}
