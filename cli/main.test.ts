// Goal: the `stadium` command itself answers what a new user asks first: its version and its help.
// Method: the real command in a child process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStadium } from './run-stadium.ts';

const root = join(import.meta.dirname, '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

describe('stadium', () => {
  it("--version and -V print package.json's version, exit 0", () => {
    for (const flag of ['--version', '-V']) {
      const run = runStadium(root, flag);
      expect(run.code, flag).toBe(0);
      expect(run.stdout, flag).toBe(`${version}\n`);
      expect(run.stderr, flag).toBe('');
    }
  });

  it('--help lists the commands, --version, the exit codes and the --json error object', () => {
    const run = runStadium(root, '--help');
    expect(run.code).toBe(0);
    for (const text of ['sim', 'check', 'replay', 'serve', 'cluster', 'bench', '--version', 'Exit codes'])
      expect(run.stdout).toContain(text);
    expect(run.stdout).toContain('{"error": "...", "code": "bad-input", "exitCode": 2}');
  });
});
