// `npm run build` (and `npm pack`, through `prepack`): compile the TypeScript into dist/ as
// JavaScript with declarations, and copy beside it the files the compiled code reads at run time
// (the named scenarios, the demo page). Plain JavaScript, so that it needs no loader.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const assets = ['sim/scenarios', 'prod/static'];

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const folder of assets) cpSync(join(root, folder), join(dist, folder), { recursive: true });

// tsc rewrites `./x.ts` to `./x.js` in the JavaScript it emits but not in declarations; do it there
// too, so that a project type-checking against the package resolves them like any other .d.ts.
for (const file of filesUnder(dist)) {
  if (!file.endsWith('.d.ts')) continue;
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(/((?:from|import\()\s*')(\.{1,2}\/[^']*)\.tsx?'/g, "$1$2.js'");
  if (rewritten !== text) writeFileSync(file, rewritten);
}

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
