// Goal: the package a user installs works: `npm pack` ships the compiled code and no tests, and,
// installed without dev dependencies (so without tsx or TypeScript), every command runs from dist/,
// the library's entry points load and type-check by the package's name.
// Method: pack this checkout, install the tarball into an empty project with `npm ci --offline
// --omit=dev` (a lockfile made from this checkout's, so the npm cache that `npm ci` filled is
// enough), then run `stadium` there as a user would: --version, sim, check, replay, serve and cluster
// (each server started, asked /healthz and stopped), a script importing the five entry points, and
// this checkout's tsc over a file that imports their types.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = import.meta.dirname;
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};
let project = '';
let tarballFiles: string[] = [];
const started = new Set<ChildProcess>();

/** Run a command to its end; throws with its output when it fails. */
function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${String(result.status ?? result.signal)}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** The installed `stadium` command, run to its end. */
function stadium(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(project, 'node_modules', '.bin', 'stadium'), ...args], {
    cwd: project,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Start the installed `stadium` in the background; resolves with the first stdout line matching `pattern`. */
function startStadium(
  args: string[],
  pattern: RegExp,
): Promise<{ child: ChildProcess; match: RegExpMatchArray; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [join(project, 'node_modules', '.bin', 'stadium'), ...args], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      started.delete(child);
      resolve(code);
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${String(pattern)} in 30 s:\n${stdout}\n${stderr}`)),
      30_000,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = pattern.exec(stdout);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ child, match, exited });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `stadium ${args.join(' ')} exited ${String(code)} before it was ready:\n${stdout}\n${stderr}`,
        ),
      );
    });
  });
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'stadium-package-'));
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', project], root, 240_000)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = packed[0]!.filename;
  tarballFiles = packed[0]!.files.map((f) => f.path);
  // The project's lockfile pins the tarball and this checkout's runtime packages (those not marked
  // dev), so `npm ci --offline` installs from the cache alone, with no registry metadata.
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean; bin?: unknown; engines?: unknown }>;
  };
  const self = lock.packages['']!;
  const packages: Record<string, unknown> = {
    '': { name: 'user-project', dependencies: { stadium: `file:${tarball}` } },
    'node_modules/stadium': {
      version: packageJson.version,
      resolved: `file:${tarball}`,
      dependencies: packageJson.dependencies,
      bin: self.bin,
      engines: self.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && entry.dev !== true && entry.devOptional !== true) packages[path] = entry;
  }
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'user-project',
      private: true,
      type: 'module',
      dependencies: { stadium: `file:${tarball}` },
    }),
  );
  writeFileSync(
    join(project, 'package-lock.json'),
    JSON.stringify({ name: 'user-project', lockfileVersion: 3, requires: true, packages }),
  );
  run('npm', ['ci', '--offline', '--omit=dev', '--no-audit', '--no-fund'], project, 240_000);
}, 480_000);

afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
  if (project !== '') rmSync(project, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the compiled code, its data files and the docs, and no tests, CI or bench results', () => {
    for (const path of [
      'bin/stadium.js',
      'dist/cli/main.js',
      'dist/sim/index.d.ts',
      'dist/sim/scenarios/live-video.json',
      'dist/prod/static/demo.html',
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'docs/design.md',
    ])
      expect(tarballFiles).toContain(path);
    expect(
      tarballFiles.filter(
        (path) => /\.test\.|(^|\/)test-|^\.ci\/|bench\/results|\.ts$/.test(path) && !path.endsWith('.d.ts'),
      ),
    ).toEqual([]);
  });

  it('installs without tsx, TypeScript or fast-check missing: a dev dependency is not there, a runtime one is', () => {
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(join(project, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(project, 'node_modules', 'fast-check'))).toBe(true);
    // Nothing on the way up from the project resolves tsx either.
    const probe = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('tsx/esm/api')"], {
      cwd: project,
      encoding: 'utf8',
    });
    expect(probe.status).not.toBe(0);
  });
});

describe('the installed stadium command', () => {
  it('--version prints the package version', () => {
    const result = stadium('--version');
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(packageJson.version);
  });

  it('sim runs a named scenario, writes its trace, and replay reads it back without a terminal', () => {
    const sim = stadium('sim', '--scenario', 'fault-free', '--seed', '7', '--json', '--trace', 'run.jsonl');
    expect(sim.code).toBe(0);
    const report = JSON.parse(sim.stdout) as { ok: boolean; scenario: string; delivered: number };
    expect(report).toMatchObject({ ok: true, scenario: 'fault-free' });
    expect(report.delivered).toBeGreaterThan(0);
    const replay = stadium('replay', 'run.jsonl');
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain('dc-a/frontend-1');
  });

  it('check runs the property checks (fast-check is a dependency)', () => {
    const check = stadium('check', '--runs', '6', '--seed', '3');
    expect(check.stderr).not.toContain('Cannot find');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('all properties hold');
  });

  it('bench says it needs a checkout and its dev dependencies, by name, and exits 2', () => {
    const bench = stadium('bench', '--quick');
    expect(bench.code).toBe(2);
    expect(bench.stderr).toContain(
      'missing here: tsx, socket.io, socket.io-client, @socket.io/redis-adapter',
    );
    expect(bench.stderr).toContain('npm install');
  });

  it('serve starts compiled, answers /healthz, the demo page and the client bundle, and stops on SIGTERM', async () => {
    const { child, match, exited } = await startStadium(
      ['serve', '--port', '0', '--log-level', 'warn'],
      /at (http:\/\/\S+) /,
    );
    const url = match[1]!;
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`${url}/`)).status).toBe(200);
    const bundle = await fetch(`${url}/client/stadium-client.js`);
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toContain('createClient');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('cluster starts its processes from the package, each answers /healthz, and SIGTERM stops them all', async () => {
    const basePort = String(10_000 + Math.floor(Math.random() * 20_000));
    const { child, match, exited } = await startStadium(
      ['cluster', '--dcs', '1', '--frontends', '1', '--base-port', basePort, '--log-level', 'warn', '--json'],
      /^\{.*\}$/m,
    );
    const { dcs } = JSON.parse(match[0]) as {
      dcs: { dispatchers: { url: string; pid: number }[]; frontends: { url: string; pid: number }[] }[];
    };
    const nodes = dcs.flatMap((dc) => [...dc.dispatchers, ...dc.frontends]);
    expect(nodes).toHaveLength(2);
    for (const node of nodes) expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const alive = nodes.filter((node) => {
      try {
        process.kill(node.pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });
});

describe('the installed library', () => {
  it('stadium/core, sim, properties, client and prod load by name: a scenario runs and a server starts in-process', () => {
    writeFileSync(
      join(project, 'use.mjs'),
      `import { deliveryModes } from 'stadium/core';
import { loadScenario, runScenario } from 'stadium/sim';
import { scenarioArbitrary } from 'stadium/properties';
import { createClient } from 'stadium/client';
import { serveConfigFrom, startServer } from 'stadium/prod';
const report = runScenario(loadScenario('fault-free'), '1', { tracePath: null });
const parsed = serveConfigFrom({ port: '0', logLevel: 'silent' }, {});
if (!parsed.ok) throw new Error(parsed.error);
const server = await startServer(parsed.config);
const health = await fetch(server.url + '/healthz');
await server.close();
console.log(JSON.stringify({ modes: deliveryModes, ok: report.ok, arbitrary: typeof scenarioArbitrary, client: typeof createClient, health: health.status }));
`,
    );
    const out = JSON.parse(run(process.execPath, ['use.mjs'], project)) as unknown;
    expect(out).toEqual({
      modes: ['best-effort', 'reliable'],
      ok: true,
      arbitrary: 'function',
      client: 'function',
      health: 200,
    });
  });

  it('the declarations type-check a user file that imports each entry point by name', () => {
    writeFileSync(
      join(project, 'use-types.ts'),
      `import type { DeliveryMode } from 'stadium/core';
import { loadScenario, runScenario, type Fault, type InvariantName, type Report, type Scenario } from 'stadium/sim';
import { scenarioArbitrary, type GeneratedScenario } from 'stadium/properties';
import { createClient, type Client } from 'stadium/client';
import { startServer, type RunningServer, type ServeConfig } from 'stadium/prod';

const scenario: Scenario = loadScenario('fault-free');
const fault: Fault = { kind: 'kill', atMs: 1000, node: 'dc-a/frontend-1' };
const report: Report = runScenario({ ...scenario, faults: [fault] }, '1', { tracePath: null });
const counts: Record<InvariantName, number> = report.violationCounts;
const mode: DeliveryMode = report.mode;
// @ts-expect-error a report's scenario is its name: this line type-checks only if the types were lost
const wrong: number = report.scenario;
export const uses: unknown[] = [counts, mode, wrong, scenarioArbitrary, createClient, startServer];
export type Uses = [GeneratedScenario, Client<unknown>, RunningServer, ServeConfig];
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: ['use-types.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});
