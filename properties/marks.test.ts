// Goal: a coverage mark that never fires fails a whole run of 1,000 scenarios or more, by name, and
// only warns below that; every declared mark reads a counter the core really increments.
// Method: a property run with a mark declared on a counter that does not exist (in this test only,
// never in the real list), and a reading of core/'s sources for each real mark's counter.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPropertiesInParallel } from './check-workers.ts';
import { checkProperties } from './check.ts';
import {
  countMarks,
  emptyMarkCounts,
  formatMarks,
  marks,
  marksJudgedFromRuns,
  marksOf,
  type Mark,
} from './marks.ts';

const neverFires: Mark = { name: 'never-fires', role: 'store', counter: 'no-such-counter', says: 'nothing' };
const fires: Mark = { name: 'forward-sent', role: 'dispatcher', counter: 'forwards-sent', says: 'a forward' };

describe('coverage marks', () => {
  it(`a mark that never fires fails a run of ${marksJudgedFromRuns} scenarios, and is named`, async () => {
    const result = await checkPropertiesInParallel({
      runs: marksJudgedFromRuns,
      seed: 20_261_123,
      marks: [fires, neverFires],
      workers: 2,
    });
    expect(result.counterexample).toBeNull();
    expect(result.ineffective).toEqual([]);
    expect(result.marksJudged).toBe(true);
    expect(result.unreachedMarks).toEqual(['never-fires']);
    expect(result.ok).toBe(false);
    expect(result.marks['forward-sent']!.scenarios).toBeGreaterThan(0);
    expect(result.marks['never-fires']).toEqual({ count: 0, scenarios: 0 });
    expect(formatMarks([fires, neverFires], result.marks)).toMatch(
      /^never-fires\s+0\s+0\s+store no-such-counter\s+NEVER$/m,
    );
  }, 180_000);

  it('a shorter run lists the mark but holds; a failing run or a shard judges no marks', () => {
    const short = checkProperties({ runs: 40, seed: 5, marks: [fires, neverFires] });
    expect(short).toMatchObject({ ok: true, marksJudged: false, unreachedMarks: ['never-fires'] });
    const shard = checkProperties({ runs: 40, seed: 5, marks: [neverFires], shard: { index: 2, count: 2 } });
    expect(shard).toMatchObject({ ok: true, marksJudged: false, unreachedMarks: [], runs: 20 });
    const failing = checkProperties({ runs: 40, seed: 7, bug: 'no-dedupe', marks: [neverFires] });
    expect(failing).toMatchObject({ ok: false, marksJudged: false, unreachedMarks: [] });
  });

  it("each mode's runs judge the marks that name it and those that name no mode", () => {
    const names = (mode: 'best-effort' | 'reliable'): string[] => marksOf(mode).map((mark) => mark.name);
    expect(names('best-effort')).toContain('resume-replayed');
    expect(names('best-effort')).not.toContain('tail-noticed');
    expect(names('reliable')).toContain('tail-noticed');
    expect(names('reliable')).not.toContain('resume-replayed');
    for (const shared of ['store-full', 'forward-retried']) {
      expect(names('best-effort')).toContain(shared);
      expect(names('reliable')).toContain(shared);
    }
    // No mark is declared for no run at all.
    expect(
      marks.filter((m) => !names('best-effort').includes(m.name) && !names('reliable').includes(m.name)),
    ).toEqual([]);
  });

  it('a scenario counts once in `scenarios`, and its counter value in `count`', () => {
    const counts = emptyMarkCounts([fires, neverFires]);
    const counters = { frontend: {}, dispatcher: { 'forwards-sent': 7 }, store: {} };
    countMarks([fires, neverFires], counters, counts);
    countMarks([fires, neverFires], counters, counts);
    expect(counts).toEqual({
      'forward-sent': { count: 14, scenarios: 2 },
      'never-fires': { count: 0, scenarios: 0 },
    });
  });

  // The counters each role's files increment: the names in its `increment(...)` calls, or a template's
  // prefix (`publishes-warned-${code}`).
  const coreDir = join(import.meta.dirname, '..', 'core');
  const filesOf: Record<Mark['role'], RegExp> = {
    frontend: /^frontend[\w-]*\.ts$/,
    dispatcher: /^dispatcher[\w-]*\.ts$/,
    store: /^subscription-store\.ts$/,
  };
  const incremented = (role: Mark['role']): { names: Set<string>; prefixes: string[] } => {
    const text = readdirSync(coreDir)
      .filter((file) => filesOf[role].test(file) && !file.endsWith('.test.ts'))
      .map((file) => readFileSync(join(coreDir, file), 'utf8'))
      .join('\n');
    const calls = [...text.matchAll(/increment\(([^;]*?)\);/gs)].map((m) => m[1]!).join('\n');
    const names = new Set([...calls.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]!));
    const prefixes = [...calls.matchAll(/`([a-z-]+)\$\{/g)].map((m) => m[1]!);
    return { names, prefixes };
  };
  const unknownCounters = (declared: readonly Mark[]): string[] =>
    declared
      .filter((mark) => {
        const { names, prefixes } = incremented(mark.role);
        return !names.has(mark.counter) && !prefixes.some((prefix) => mark.counter.startsWith(prefix));
      })
      .map((mark) => `${mark.name}: ${mark.role} ${mark.counter}`);

  it('every declared mark reads a counter its role increments (the reading is first seen to fail)', () => {
    const typo = { ...marks[0]!, counter: `${marks[0]!.counter}s` };
    const wrongRole: Mark = { ...fires, role: 'frontend' };
    expect(unknownCounters([typo, wrongRole, neverFires])).toEqual([
      `${typo.name}: store ${typo.counter}`,
      'forward-sent: frontend forwards-sent',
      'never-fires: store no-such-counter',
    ]);
    expect(unknownCounters(marks)).toEqual([]);
    expect(new Set(marks.map((mark) => mark.name)).size).toBe(marks.length);
  });
});
