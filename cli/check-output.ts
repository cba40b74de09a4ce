/**
 * What `stadium check` prints once a run (or a merge of shard results) has its outcome: the fault
 * tally, the coverage marks, the time and rate, the verdict; on failure it first writes the shrunk
 * scenario as a file `stadium sim --scenario` accepts and its trace, and prints the commands that
 * replay it. `--json` prints the same as one object. An unsharded run and the merge of its shards
 * print the same verdict, counts and counterexample.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckResult, Mark, RunIdentity, Shard } from '../properties/index.ts';

export interface CheckRun {
  identity: RunIdentity;
  /** The shard this run checked; null for a whole run. */
  shard: Shard | null;
  /** How many shard results were merged into this outcome; null for a run. */
  merged: number | null;
  /** The path a replay checked; null otherwise. */
  path: string | null;
  /** Where a failure's shrunk scenario is written. */
  out: string;
  marks: readonly Mark[];
}

/** Every option that decides which scenarios are generated: a command that reproduces a run carries each. */
export function shapingOptions(identity: RunIdentity): string {
  const { seed, scenarioSize, mode, plantBug } = identity;
  return `--seed ${seed}${scenarioSize === 'large' ? ' --scenario-size large' : ''}${mode === 'best-effort' ? '' : ` --mode ${mode}`}${plantBug === null ? '' : ` --plant-bug ${plantBug}`}`;
}

/** Print the outcome (text, or one JSON object with `json`); returns the exit code, set before printing. */
export async function printCheck(result: CheckResult, run: CheckRun, json: boolean): Promise<number> {
  const counterexample = result.counterexample === null ? null : await writeCounterexample(result, run);
  // The verdict stands before it is printed, so a closed stdout still ends with it.
  const code = result.ok ? 0 : 1;
  process.exitCode = code;
  const seconds = result.durationMs / 1000;
  const scenariosPerSecond = Math.round(result.runs / Math.max(seconds, 0.001));
  if (json) {
    const { identity } = run;
    const summary = {
      ok: result.ok,
      runs: result.runs,
      shrinkCandidates: result.tally.shrinkCandidates,
      seed: identity.seed,
      fastCheckSeed: identity.fastCheckSeed,
      mode: identity.mode,
      shard: run.shard === null ? null : { ...run.shard, ...result.range },
      merged: run.merged,
      workers: result.workers,
      durationMs: result.durationMs,
      scenariosPerSecond,
      faults: result.tally.started,
      requested: result.tally.requested,
      deathsByRole: result.tally.deathsByRole,
      drops: result.tally.drops,
      ineffective: result.ineffective,
      marks: result.marks,
      unreachedMarks: result.unreachedMarks,
      marksJudged: result.marksJudged,
      counterexample,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return code;
  }
  const { formatMarks, formatTally, marksJudgedFromRuns } = await import('../properties/index.ts');
  const out = process.stdout;
  out.write(`${formatTally(result.tally)}\n\n`);
  // One replayed scenario says nothing about coverage.
  if (run.path === null) out.write(`${formatMarks(run.marks, result.marks)}\n\n`);
  const rate = `${scenariosPerSecond.toLocaleString('en-US')} scenarios/s`;
  const how =
    run.merged === null
      ? ` (${rate}, ${result.workers} worker${result.workers === 1 ? '' : 's'})`
      : run.merged === 1
        ? ` in one shard (${rate})`
        : `, the longest of ${run.merged} shards (${rate} with the shards side by side)`;
  out.write(
    `${result.runs.toLocaleString('en-US')} generated scenario${result.runs === 1 ? '' : 's'} checked in ${seconds.toFixed(1)} s${how}\n`,
  );
  if (run.shard !== null && run.shard.count > 1)
    out.write(
      `shard ${run.shard.index}/${run.shard.count}: scenarios ${result.range.from.toLocaleString('en-US')} to ${(result.range.to - 1).toLocaleString('en-US')} of ${run.identity.runs.toLocaleString('en-US')}; fault kinds and marks are judged when the shards are merged (stadium check --merge)\n`,
    );
  if (result.ineffective.length > 0)
    out.write(
      `FAILED: these fault kinds were asked for but never took effect: ${result.ineffective.join(', ')}\n`,
    );
  if (result.unreachedMarks.length > 0) {
    const named = result.unreachedMarks
      .map((name) => {
        const mark = run.marks.find((m) => m.name === name);
        return mark === undefined ? name : `${name} (${mark.role} ${mark.counter})`;
      })
      .join(', ');
    out.write(
      result.marksJudged
        ? `FAILED: coverage marks never reached in ${result.runs.toLocaleString('en-US')} scenarios: ${named}\n`
        : `warning: coverage marks not reached: ${named} (a run of ${marksJudgedFromRuns.toLocaleString('en-US')} scenarios or more fails on these)\n`,
    );
  }
  if (counterexample !== null) {
    out.write(`FAILED: ${counterexample.problem}\n`);
    out.write(`  shrunk ${counterexample.shrinks} times to ${counterexample.faults.length} fault(s)\n`);
    out.write(`  replay the failure:  ${counterexample.replayPath}\n`);
    out.write(`  the shrunk scenario: ${counterexample.scenarioFile}\n`);
    out.write(`  run it:              ${counterexample.reproduce}\n`);
    out.write(`  step through it:     ${counterexample.replay}\n`);
  } else if (result.ok) {
    out.write(
      run.path !== null
        ? `the scenario at --path ${run.path} keeps every property\n`
        : run.shard !== null && run.shard.count > 1
          ? "all properties hold in this shard's scenarios\n"
          : 'all properties hold\n',
    );
  }
  return code;
}

/** Write the shrunk scenario and its trace; what the output says about them. */
async function writeCounterexample(result: CheckResult, run: CheckRun) {
  const sim = await import('../sim/index.ts');
  const found = result.counterexample;
  if (found === null) throw new Error('no counterexample to write');
  const { seed, plantBug } = run.identity;
  const { generated, path, problem, shrinks, violations } = found;
  const name = `check-${seed}`;
  mkdirSync(run.out, { recursive: true });
  const scenarioFile = join(run.out, `${name}.json`);
  writeFileSync(scenarioFile, `${JSON.stringify({ ...generated.scenario, name }, null, 2)}\n`);
  const trace = `.stadium/runs/${name}-${generated.seed}.jsonl`;
  try {
    sim.runScenario({ ...generated.scenario, name }, generated.seed, {
      tracePath: trace,
      ...(plantBug === null ? {} : { roles: sim.rolesWithBug(plantBug) }),
    });
  } catch {
    // The failure is that the simulation throws (an assertion of the core caught its own bug): the
    // problem names it, and the trace ends where the run stopped.
  }
  return {
    problem,
    seed,
    path,
    shrinks,
    scenarioFile,
    scenarioSeed: generated.seed,
    trace,
    faults: generated.scenario.faults,
    violations,
    reproduce: `stadium sim --scenario ${scenarioFile} --seed ${generated.seed}${plantBug === null ? '' : ` --plant-bug ${plantBug}`}`,
    replayPath: `stadium check ${shapingOptions(run.identity)} --path ${path}`,
    replay: `stadium replay ${trace}`,
  };
}
