/**
 * `GET /client/stadium-client.js`: the client library (client/index.ts) as one ES module for
 * browsers, so a page needs no build step: `import { createClient } from '/client/stadium-client.js'`.
 *
 * The module is bundled from client/index.ts (or, in an installed package, the client/index.js
 * compiled beside this module's own dist/prod/) with esbuild the first time it is asked for,
 * once per process, and kept: a few tens of milliseconds, paid by no server that never serves it
 * (tests start hundreds). The path is stable across versions, so the answer carries an ETag (a hash
 * of the bundle) and `Cache-Control: no-cache`: a browser keeps its copy and revalidates it, getting
 * `304` until the server runs another version. CORS is open, as for streams: a page of another
 * origin may load the module (module scripts are fetched in CORS mode).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { build } from 'esbuild';
import { exchange, reply } from './http-reply.ts';
import { httpError } from './http-input.ts';
import { corsHeaders } from './http-routes.ts';
import type { HttpRoutes } from './http-routes.ts';

export const clientModulePath = '/client/stadium-client.js';
const entryPoint = join(
  import.meta.dirname,
  '..',
  'client',
  import.meta.url.endsWith('.ts') ? 'index.ts' : 'index.js',
);

interface Bundle {
  code: string;
  etag: string;
}

let bundle: Promise<Bundle> | null = null;

/** The browser module, bundled once per process. */
export function clientBundle(): Promise<Bundle> {
  bundle ??= build({
    entryPoints: [entryPoint],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    legalComments: 'none',
    banner: { js: '// Stadium client library (stadium/client), bundled from client/index.ts.' },
  }).then((result) => {
    const code = result.outputFiles[0]?.text;
    if (code === undefined) throw new Error(`esbuild wrote no output for ${entryPoint}`);
    return { code, etag: `"${createHash('sha256').update(code).digest('base64url').slice(0, 27)}"` };
  });
  // A failed bundle is not kept: the next request tries again (and answers 500 meanwhile).
  bundle.catch(() => (bundle = null));
  return bundle;
}

export function clientRoute(http: HttpRoutes): void {
  http.allowed.set(clientModulePath, 'GET, HEAD');
  for (const head of [false, true]) {
    const method = head ? http.app.head.bind(http.app) : http.app.get.bind(http.app);
    method(clientModulePath, (res, req) => {
      const ex = exchange(res, { head });
      const ifNoneMatch = req.getHeader('if-none-match');
      clientBundle().then(
        ({ code, etag }) => {
          const headers = {
            ...corsHeaders,
            'Content-Type': 'text/javascript; charset=utf-8',
            'Cache-Control': 'no-cache',
            ETag: etag,
          };
          if (ifNoneMatch.split(/\s*,\s*/).includes(etag)) {
            if (ex.aborted || ex.answered) return;
            ex.answered = true;
            res.cork(() => {
              res.writeStatus('304 Not Modified');
              for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
              res.endWithoutBody();
            });
            return;
          }
          reply(ex, 200, code, headers);
        },
        (error: unknown) =>
          http.fail(
            ex,
            httpError(
              500,
              'client-bundle-failed',
              `the client library could not be bundled: ${error instanceof Error ? error.message : String(error)}`,
            ),
          ),
      );
    });
  }
}
