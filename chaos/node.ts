/**
 * One node of a chaos run: a real `stadium serve` (prod/server.ts) in its own process, with the
 * scenario's role settings, the run's recorder writing its facts, and (with `--plant-bug`) the
 * planted-bug copy of the roles the simulator runs. The harness (chaos/deployment.ts) starts it with
 * its spec as JSON in `STADIUM_CHAOS_NODE` and a pipe on stdin: when the pipe closes — the harness
 * exited, was killed, or crashed — the node exits too, so no run leaves processes behind.
 */
import { closeSync, openSync } from 'node:fs';
import { serveConfigFrom, startServer } from '../prod/index.ts';
import { coreRoles, plantedBugs, rolesWithBug } from '../sim/index.ts';
import { FactRecorder } from './fact-recorder.ts';
import { chaosNodeEnv, type ChaosNodeSpec } from './node-spec.ts';

async function main(): Promise<void> {
  const text = process.env[chaosNodeEnv];
  if (text === undefined) {
    process.stderr.write(
      `chaos node: ${chaosNodeEnv} is not set; this process is started by \`stadium chaos\`\n`,
    );
    process.exit(2);
  }
  const spec = JSON.parse(text) as ChaosNodeSpec;
  if (spec.plantBug !== null && !plantedBugs.includes(spec.plantBug)) {
    process.stderr.write(`chaos node: unknown planted bug ${spec.plantBug}\n`);
    process.exit(2);
  }
  const parsed = serveConfigFrom(spec.flags, {});
  if (!parsed.ok) {
    process.stderr.write(`chaos node ${spec.self.id}: ${parsed.error}\n`);
    process.exit(2);
  }
  const fd = openSync(spec.factsFile, 'a');
  const recorder = new FactRecorder({
    self: spec.self,
    names: new Map(spec.names),
    messageBase: spec.messageBase,
    originUs: spec.originUs,
    fd,
  });
  const roles = spec.plantBug === null ? coreRoles : rolesWithBug(spec.plantBug);
  const server = await startServer(parsed.config, undefined, {
    roles,
    recorder,
    frontendOptions: spec.frontendOptions,
    dispatcherOptions: spec.dispatcherOptions,
  });
  const stop = (): void => {
    void server.close().finally(() => {
      closeSync(fd);
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The harness holds the other end of stdin: when it is gone, so is this run.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

await main();
