// Goal: `stadium serve` hands browsers the client library as one self-contained ES module at a
// stable path, with the headers a module script and a cache need. Method: a real server; the module
// fetched over HTTP, revalidated with its ETag, and imported into this process to show it runs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { clientModulePath } from './route-client.ts';
import { closeTestServers, start } from './test-server.ts';

afterEach(closeTestServers);

describe(`GET ${clientModulePath}`, () => {
  it('answers a self-contained ES module with its content type, ETag and cache rule', async () => {
    const server = await start();
    const response = await fetch(`${server.url}${clientModulePath}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    const code = await response.text();
    // One file: nothing left for the browser to resolve.
    expect(code).not.toMatch(/^\s*import\s/m);
    expect(code).toMatch(/export\s*\{[^}]*createClient/);

    const again = await fetch(`${server.url}${clientModulePath}`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const head = await fetch(`${server.url}${clientModulePath}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(code)));

    const file = join(mkdtempSync(join(tmpdir(), 'stadium-client-')), 'stadium-client.mjs');
    writeFileSync(file, code);
    const module = (await import(pathToFileURL(file).href)) as {
      createClient: unknown;
      defaultBackoff: unknown;
    };
    expect(typeof module.createClient).toBe('function');
    expect(module.defaultBackoff).toEqual({ initialMs: 500, maxMs: 30_000 });
  });

  it('other methods are refused with 405 and Allow', async () => {
    const server = await start();
    const response = await fetch(`${server.url}${clientModulePath}`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });
});
