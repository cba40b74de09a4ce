// Goal: `stadium serve --help` documents exactly the options prod/ understands, with the same
// environment variables, and the process shuts down gracefully. Method: compare the CLI's list
// with prod/config.ts's; run bin/stadium.js and send it SIGTERM.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { serveOptions } from '../../prod/config.ts';
import { register, serveFlags } from './serve.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('stadium serve options', () => {
  it('the CLI lists every prod option with its env variable and default, in the same order', () => {
    expect(
      serveFlags.map(([flag, valueName, description, env, defaultText]) => ({
        flag,
        valueName,
        description,
        env,
        defaultText,
      })),
    ).toEqual(
      serveOptions.map(({ flag, valueName, description, env, defaultText }) => ({
        flag,
        valueName,
        description,
        env,
        defaultText,
      })),
    );
  });

  it("the README's options table says the same as prod/config.ts, row by row", () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const rows = readme
      .split('\n')
      .filter((line) => line.startsWith('| `--'))
      .map((line) =>
        line
          .slice(1, -1)
          .split(/(?<!\\)\|/)
          .map((cell) => cell.trim().replaceAll('\\|', '|')),
      );
    expect(rows).toEqual(
      serveOptions.map(({ flag, valueName, description, env, defaultText }) => [
        `\`--${flag} ${valueName}\``,
        `\`${env}\``,
        defaultText,
        description,
      ]),
    );
  });

  it('--help shows every flag and an example', () => {
    const program = new Command().exitOverride();
    register(program);
    const serve = program.commands.find((c) => c.name() === 'serve')!;
    let help = '';
    serve.configureOutput({ writeOut: (text) => (help += text) });
    serve.outputHelp();
    for (const option of serveOptions) expect(help).toContain(`--${option.flag}`);
    expect(help).toContain('Examples:');
  });
});

describe('stadium serve as a process', () => {
  it('SIGTERM: SSE clients get a retry hint before their stream ends, and the process exits 0', async () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'stadium.js');
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--sse-retry-ms', '4321'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      for (let i = 0; i < 300 && !/ at (http:\/\/\S+)/.test(stdout); i++) await sleep(50);
      const url = / at (http:\/\/\S+)/.exec(stdout)?.[1];
      expect(url, stderr).toBeDefined();
      const response = await fetch(`${url}/v1/stream?topic=bye`);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let received = '';
      const ended = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return true;
          received += value;
        }
      })();
      while (!received.includes(': connected')) await sleep(20);
      child.kill('SIGTERM');
      expect(await ended).toBe(true);
      expect(received.endsWith('retry: 4321\n\n')).toBe(true);
      expect(await exit).toBe(0);
      expect(stderr).toContain('"msg":"shutting down"');
      expect(stderr).toContain('"msg":"stopped"');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
