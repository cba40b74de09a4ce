/**
 * A behaviour fingerprint of the simulator, for restructurings that must change nothing: every
 * named scenario at seeds 1-3 (traceHash, trace size and the whole report but wall time), and every
 * planted bug on a small faulted scenario (the checker's counts). `write` records it; `check`
 * compares the current tree with a recording and names every difference.
 *
 *   node --import tsx scripts/trace-baseline.ts write .stadium/baseline.json
 *   node --import tsx scripts/trace-baseline.ts check .stadium/baseline.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  loadScenario,
  namedScenarios,
  plantedBugs,
  rolesWithBug,
  runScenario,
  type Report,
} from '../sim/index.ts';
import { plantedBugScenario } from '../sim/test-fixtures.ts';

type Fingerprint = Record<string, unknown>;

function withoutWallTime(report: Report): Fingerprint {
  const { wallMs: _wall, eventsPerSecond: _rate, tracePath: _path, ...rest } = report;
  return rest;
}

function fingerprint(): Fingerprint {
  const out: Fingerprint = {};
  for (const name of namedScenarios()) {
    for (const seed of ['1', '2', '3']) {
      out[`${name} seed ${seed}`] = withoutWallTime(
        runScenario(loadScenario(name), seed, { tracePath: null }),
      );
      process.stderr.write(`  ${name} seed ${seed}\n`);
    }
  }
  const faulted = plantedBugScenario();
  for (const bug of plantedBugs) {
    const report = runScenario(faulted, '7', { tracePath: null, roles: rolesWithBug(bug) });
    const { violations: _details, ...counts } = withoutWallTime(report);
    out[`planted ${bug}`] = counts;
    process.stderr.write(`  planted ${bug}\n`);
  }
  return out;
}

function differences(before: Fingerprint, after: Fingerprint): string[] {
  const lines: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a !== b) lines.push(`${key}:\n  before ${a ?? '(none)'}\n  after  ${b ?? '(none)'}`);
  }
  return lines;
}

const [verb, file] = process.argv.slice(2);
if ((verb !== 'write' && verb !== 'check') || file === undefined) {
  process.stderr.write('usage: node --import tsx scripts/trace-baseline.ts write|check FILE\n');
  process.exit(2);
}
const now = fingerprint();
if (verb === 'write') {
  writeFileSync(file, `${JSON.stringify(now, null, 1)}\n`);
  process.stdout.write(`wrote ${Object.keys(now).length} fingerprints to ${file}\n`);
} else {
  const diff = differences(JSON.parse(readFileSync(file, 'utf8')) as Fingerprint, now);
  if (diff.length === 0) {
    process.stdout.write(`${Object.keys(now).length} fingerprints identical to ${file}\n`);
  } else {
    process.stdout.write(`${diff.length} fingerprint(s) differ from ${file}:\n${diff.join('\n')}\n`);
    process.exitCode = 1;
  }
}
