// Goal: reliable mode keeps every promise in every named scenario — the flagship and the ones made
// to stress it (a store that loses its data, a frontend frozen past its lease, viewers hopping
// frontends, a history too short for a long cut) — with nothing missing after heal, no order broken,
// no dishonest gap, no acknowledged event unstored. Method: each named scenario, run in reliable
// mode with seed 1, judged by the whole checker suite.
import { describe, expect, it } from 'vitest';
import { loadScenario, namedScenarios, runScenario } from './run.ts';

describe('every named scenario in reliable mode', () => {
  it.each(namedScenarios())(
    '%s, seed 1: no invariant violated, and what reliable mode promises is kept',
    (name) => {
      const scenario = { ...loadScenario(name), mode: 'reliable' as const };
      const report = runScenario(scenario, '1', { tracePath: null });
      expect(report.violations.map((v) => `${v.invariant}: ${v.message}`)).toEqual([]);
      expect(report.ok).toBe(true);
      const reliable = report.reliable!;
      expect(reliable.seqsMissing).toBe(0);
      expect(reliable.orderErrors).toBe(0);
      expect(reliable.dishonestGaps).toBe(0);
      expect(report.duplicates).toBe(0);
      // Something was judged: streams still joined at the end, every publish stored.
      expect(reliable.streamsJudged).toBeGreaterThan(100);
      expect(reliable.appended).toBeGreaterThanOrEqual(report.published);
    },
    // The flagship alone takes about 30 s of one core in reliable mode; CI runs two files at once.
    240_000,
  );

  it('the stress scenarios exercise what they are named for', () => {
    const run = (name: string) => runScenario(loadScenario(name), '1', { tracePath: null }).reliable!;
    expect(run('store-loses-data').gaps.epoch).toBeGreaterThan(0);
    expect(run('history-too-short').gaps.trimmed).toBeGreaterThan(0);
    expect(run('viewer-hopping').resumes).toBeGreaterThan(100);
  });
});
