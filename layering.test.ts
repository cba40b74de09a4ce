// Goal: the layers stay as the README draws them, core/ stays free of ambient nondeterminism and IO, and
// client/ (the browser and Node client library) carries nothing a browser cannot run.
// Method: read every source file's import statements and core/'s code; the checker itself is first
// shown to fail on planted violations.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = import.meta.dirname;
const layers = ['core', 'sim', 'prod', 'cli', 'properties', 'bench', 'client', 'chaos'] as const;
type Layer = (typeof layers)[number];

/** Which layers each layer may import. Everything else is a broken edge. */
const allowed: Record<Layer, Layer[]> = {
  core: ['core'],
  sim: ['sim', 'core'],
  // prod/'s measurements on real processes drive the client library, as applications do.
  prod: ['prod', 'core', 'client'],
  cli: ['cli', 'sim', 'core', 'prod', 'bench', 'properties', 'chaos'],
  properties: ['properties', 'core', 'sim', 'prod'],
  bench: ['bench', 'core', 'sim', 'prod'],
  client: ['client', 'core'],
  // The chaos harness runs a simulator scenario's faults against real processes and their clients.
  chaos: ['chaos', 'core', 'sim', 'prod', 'client'],
};

/** Layers a layer's tests (only they) may import besides `allowed`: the client is tested against a real server. */
const allowedInTests: Partial<Record<Layer, Layer[]>> = { client: ['prod'] };

/**
 * The client library is bundled for browsers: of core/ it takes only the pure modules that keep a
 * viewer's cursors (not core/index.ts, which would bring every role into the bundle).
 */
const clientCoreModules: ReadonlySet<string> = new Set([
  'core/cursor.ts',
  'core/viewer-cursors.ts',
  'core/validation.ts',
  'core/types.ts',
]);

/** npm packages a layer's non-test code may use; core may use none. */
const packagesAllowed: Record<Layer, RegExp> = {
  core: /^$/,
  sim: /^(seedrandom)$/,
  prod: /^(uWebSockets\.js|ioredis|prom-client|jose|esbuild)$/,
  cli: /^(commander|ink|react|react\/jsx-runtime|seedrandom)$/,
  properties: /^(fast-check|vitest|ioredis)$/,
  bench: /^(ws|eventsource|ioredis|socket\.io|socket\.io-client|@socket\.io\/redis-adapter|uWebSockets\.js)$/,
  client: /^$/,
  chaos: /^(seedrandom)$/,
};

/**
 * Boundaries inside sim/, for code other than tests: the world emits facts and judges nothing, the
 * checkers judge facts from wherever they come, and the trace reader turns a file back into facts
 * without a world. (run.ts wires the world, so importing it counts as importing the world.)
 */
const innerBoundaries: { from: RegExp; to: RegExp; why: string }[] = [
  { from: /^sim\/checkers\//, to: /^sim\/(world\/|run\.ts$)/, why: 'the checkers never import the world' },
  {
    from: /^sim\/world\//,
    to: /^sim\/checkers\//,
    why: 'the world judges nothing: it never imports the checkers',
  },
  {
    from: /^sim\/(trace-reader|check-trace)\.ts$/,
    to: /^sim\/(world\/|run\.ts$)/,
    why: 'the trace reader reads facts from a file, never from the world',
  },
];

/** sim/'s folders (sim/world/, sim/checkers/): the rest of sim/ imports each through its index.ts. */
function throughFolderIndex(path: string, target: string): string | null {
  const folder = /^(sim\/[\w-]+)\//.exec(target)?.[1];
  if (folder === undefined || path.startsWith(`${folder}/`) || target === `${folder}/index.ts`) return null;
  return `${path}: import ${folder}/ through ${folder}/index.ts, not ${target}`;
}

const bannedInCore: [RegExp, string][] = [
  [/\bDate\.now\b|\bnew Date\(/, 'reads the real clock'],
  [/\bperformance\.now\b/, 'reads the real clock'],
  [/\bMath\.random\b/, 'draws ambient randomness'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'uses a timer'],
  [/\bprocess\./, 'touches the process'],
  [/\basync\b|\bawait\b|\bPromise\b/, 'is asynchronous'],
  [/\brequire\(/, 'loads a module at run time'],
];

/**
 * Replay is a viewer of the simulator's trace: it reads every line through the sim's trace reader
 * (`TraceReader`, `parseTraceLine`) and parses none itself, so what a line holds and means is
 * decided in one place.
 */
const bannedInReplay: [RegExp, string][] = [
  [/\bJSON\.parse\b/, "parses text itself: read trace lines with the sim's TraceReader or parseTraceLine"],
];

interface Source {
  path: string;
  text: string;
}

const stripComments = (text: string): string =>
  text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  const pattern =
    /(?:^|\s)(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const match of stripComments(text).matchAll(pattern))
    specifiers.push((match[1] ?? match[2] ?? match[3])!);
  return specifiers;
}

export function layeringViolations(sources: Source[]): string[] {
  const violations: string[] = [];
  for (const { path, text } of sources) {
    const layer = path.split('/')[0] as Layer;
    if (!layers.includes(layer)) continue;
    // Tests, and the helpers only tests use (`test-*.ts`), may use dev packages and deep imports.
    const isTest = isTestFile(path) || isTestSupport(path);
    for (const specifier of importsOf(text)) {
      if (specifier.startsWith('.')) {
        const target = join(path, '..', specifier);
        const targetLayer = target.split('/')[0] as Layer;
        if (!isTest && isTestSupport(target)) {
          violations.push(`${path}: only tests may import the test helper ${target}`);
        } else if (
          !layers.includes(targetLayer) ||
          !(allowed[layer].includes(targetLayer) || (isTest && allowedInTests[layer]?.includes(targetLayer)))
        ) {
          violations.push(`${path}: ${layer}/ must not import ${target}`);
        } else if (!isTest && layer === 'client' && targetLayer === 'core') {
          if (!clientCoreModules.has(target))
            violations.push(
              `${path}: client/ takes only the pure cursor modules of core/ (${[...clientCoreModules].join(', ')}), not ${target}`,
            );
        } else if (!isTest && targetLayer !== layer && target !== `${targetLayer}/index.ts`) {
          violations.push(`${path}: import ${targetLayer}/ through ${targetLayer}/index.ts, not ${target}`);
        } else if (!isTest && targetLayer === layer) {
          for (const { from, to, why } of innerBoundaries)
            if (from.test(path) && to.test(target)) violations.push(`${path}: ${why} (${target})`);
          const deep = throughFolderIndex(path, target);
          if (deep !== null) violations.push(deep);
        }
      } else if (specifier.startsWith('node:')) {
        if (layer === 'core' || (layer === 'client' && !isTest))
          violations.push(`${path}: ${layer}/ must not import ${specifier}`);
      } else if (!isTest && !packagesAllowed[layer].test(specifier)) {
        violations.push(`${path}: ${layer}/ must not depend on the package ${specifier}`);
      }
    }
    if (layer === 'core' && !isTest) {
      const code = stripComments(text);
      for (const [pattern, why] of bannedInCore) {
        const found = code.match(pattern);
        if (found) violations.push(`${path}: core/ ${why} (${found[0]})`);
      }
    }
    if (path.startsWith('cli/replay/') && !isTest) {
      const code = stripComments(text);
      for (const [pattern, why] of bannedInReplay) {
        const found = code.match(pattern);
        if (found) violations.push(`${path}: cli/replay/ ${why} (${found[0]})`);
      }
    }
  }
  return violations;
}

function isTestFile(path: string): boolean {
  return /\.test\.tsx?$/.test(path);
}

/** A module only tests use: its name starts with `test-` (prod/test-server.ts, prod/test-gate.ts). */
function isTestSupport(path: string): boolean {
  return /(^|\/)test-[\w-]+\.tsx?$/.test(path);
}

function sourcesUnder(dir: string): Source[] {
  const out: Source[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourcesUnder(path));
    else if (/\.tsx?$/.test(name)) out.push({ path: relative(root, path), text: readFileSync(path, 'utf8') });
  }
  return out;
}

describe('layering', () => {
  it('the checker catches each kind of planted violation', () => {
    const planted: Source[] = [
      { path: 'core/a.ts', text: "import { x } from '../sim/index.ts';" },
      { path: 'core/b.ts', text: "import { readFileSync } from 'node:fs';" },
      { path: 'core/c.ts', text: 'export const t = () => Date.now();' },
      { path: 'core/d.ts', text: 'export const r = Math.random();' },
      { path: 'core/e.ts', text: 'setTimeout(() => 1, 5);' },
      { path: 'core/f.ts', text: 'export async function g() { await 1; }' },
      { path: 'core/g.ts', text: "import seedrandom from 'seedrandom';" },
      { path: 'prod/a.ts', text: "export { world } from '../sim/index.ts';" },
      { path: 'sim/a.ts', text: "import { frontend } from '../core/frontend.ts';" },
      { path: 'core/h.ts', text: "const m = await import('../prod/index.ts');" },
      { path: 'core/i.ts', text: 'const x = process.env.X;' },
      { path: 'prod/b.ts', text: "import { start } from './test-server.ts';" },
      { path: 'prod/c.ts', text: "import WebSocket from 'ws';" },
      { path: 'sim/checkers/a.ts', text: "import { runWorld } from '../world/index.ts';" },
      { path: 'sim/checkers/b.ts', text: "import { runScenario } from '../run.ts';" },
      { path: 'sim/world/a.ts', text: "import { Checkers } from '../checkers/index.ts';" },
      { path: 'sim/trace-reader.ts', text: "import { runWorld } from './world/index.ts';" },
      { path: 'sim/b.ts', text: "import { Nodes } from './world/nodes.ts';" },
      { path: 'cli/replay/a.ts', text: 'const record = JSON.parse(line) as TraceRecord;' },
      { path: 'cli/replay/views/b.tsx', text: 'export const v = JSON.parse(text);' },
      { path: 'client/a.ts', text: "import { coreRoles } from '../core/index.ts';" },
      { path: 'client/b.ts', text: "import { createFrontend } from '../core/frontend.ts';" },
      { path: 'client/c.ts', text: "import { start } from '../prod/index.ts';" },
      { path: 'client/d.ts', text: "import WebSocket from 'ws';" },
      { path: 'client/e.ts', text: "import { setTimeout } from 'node:timers';" },
      { path: 'client/f.test.ts', text: "import { x } from '../sim/index.ts';" },
    ];
    const found = layeringViolations(planted);
    for (const { path } of planted)
      expect(
        found.some((v) => v.startsWith(`${path}:`)),
        path,
      ).toBe(true);
    expect(
      layeringViolations([
        { path: 'core/ok.ts', text: "// Date.now is banned here\nimport type { Ms } from './types.ts';" },
        { path: 'prod/test-server.ts', text: "import WebSocket from 'ws';" },
        { path: 'prod/x.test.ts', text: "import { start } from './test-server.ts';" },
        { path: 'sim/world/c.ts', text: "import { Nodes } from './nodes.ts';" },
        { path: 'sim/run.ts', text: "import { runWorld } from './world/index.ts';" },
        { path: 'sim/checkers/c.ts', text: "import type { Fact } from '../facts.ts';" },
        { path: 'sim/checkers/d.test.ts', text: "import { runScenario } from '../run.ts';" },
        { path: 'cli/replay/e.ts', text: '// no JSON.parse here: parseTraceLine(line)' },
        { path: 'cli/replay/f.test.ts', text: 'const report = JSON.parse(stdout);' },
        { path: 'cli/commands/g.ts', text: 'const scenario = JSON.parse(text);' },
        { path: 'client/h.ts', text: "import { encodeCursors } from '../core/cursor.ts';" },
        { path: 'client/i.ts', text: "import type { Gap } from '../core/types.ts';" },
        { path: 'client/j.test.ts', text: "import { start } from '../prod/test-server.ts';" },
      ]),
    ).toEqual([]);
  });

  it('the tree breaks no layering edge and core/ stays pure', () => {
    const sources = layers.flatMap((layer) => {
      try {
        return sourcesUnder(join(root, layer));
      } catch {
        return [];
      }
    });
    expect(sources.length).toBeGreaterThan(5);
    expect(layeringViolations(sources)).toEqual([]);
  });
});
