#!/usr/bin/env node
// The `stadium` command. An installed package runs the JavaScript compiled into dist/ (`npm run
// build`, run by `npm pack`); a checkout runs its TypeScript sources through tsx, so it needs no
// build step and never runs a stale dist/. A checkout without tsx (installed without dev
// dependencies) runs dist/ when it has been built.
import { existsSync } from 'node:fs';

const sources = new URL('../cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);

if (existsSync(sources) && (await tsxRegistered())) {
  await import(sources.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write(
    existsSync(sources)
      ? 'stadium: this checkout runs from its TypeScript sources, which needs tsx (a development dependency):\n' +
          'run `npm ci` (or `npm install`) without --omit=dev, or build it once with `npm run build`.\n'
      : 'stadium: the package has no compiled code (dist/ is missing); reinstall it, or run `npm run build`.\n',
  );
  process.exitCode = 2;
}

/** Register tsx's loader; false when tsx is not installed. */
async function tsxRegistered() {
  let api;
  try {
    api = await import('tsx/esm/api');
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND') return false;
    throw error;
  }
  api.register();
  return true;
}
