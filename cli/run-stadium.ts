/** Runs the real `stadium` command in a child process, for the CLI tests. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const bin = join(import.meta.dirname, '..', 'bin', 'stadium.js');

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runStadium(cwd: string, ...args: string[]): CommandResult {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
