// Goal: the edges of HTTP that uWebSockets.js leaves to its handlers are answered as HTTP/1.1
// clients and proxies expect: HEAD like GET without a body (keep-alive framing holds), and a plain
// GET of the WebSocket endpoint told to upgrade. What uWebSockets.js answers itself is pinned too,
// because the README's proxy settings depend on it.
// Method: a server in this process, driven over raw TCP sockets, several requests per connection.
import { afterEach, describe, expect, it } from 'vitest';
import { RawHttp, rawRequest } from './test-http.ts';
import type { RawOutcome, RawResponse } from './test-http.ts';
import { closeTestServers, openWs, start, wsUrl } from './test-server.ts';
import { waitFor } from './wait-for.ts';

afterEach(closeTestServers);

const timeoutMs = 10_000;

function responseOf(outcome: RawOutcome): RawResponse {
  if (outcome.kind !== 'response') throw new Error(`no response: ${JSON.stringify(outcome)}`);
  return outcome.response;
}

describe('HEAD', () => {
  it('HEAD of a GET route answers its status and headers without a body, and the connection goes on', async () => {
    const server = await start();
    const connection = await RawHttp.connect(server.port);
    const ask = async (method: string, path: string): Promise<RawResponse> => {
      connection.write(`${method} ${path} HTTP/1.1\r\nHost: stadium\r\n\r\n`);
      return responseOf(await connection.read({ head: method === 'HEAD', timeoutMs }));
    };
    for (const path of ['/healthz', '/metrics', '/']) {
      const head = await ask('HEAD', path);
      const get = await ask('GET', path);
      expect(head.status, `HEAD ${path}`).toBe(200);
      expect(head.headers['content-type']).toBe(get.headers['content-type']);
      expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
      expect(get.status, `GET ${path} after HEAD`).toBe(200);
      expect(get.body.length).toBeGreaterThan(0);
    }
    expect(JSON.parse((await ask('GET', '/healthz')).body)).toMatchObject({ status: 'ok' });
    expect(connection.closed).toBe(false);
  });

  it('HEAD of a route that takes no HEAD is a 405 or 404 without a body, and the connection goes on', async () => {
    const server = await start();
    const connection = await RawHttp.connect(server.port);
    for (const [path, status, allow] of [
      ['/v1/stream?topic=t', 405, 'GET'],
      ['/v1/ws', 405, 'GET'],
      ['/v1/publish', 405, 'POST'],
      ['/nowhere', 404, undefined],
    ] as const) {
      connection.write(`HEAD ${path} HTTP/1.1\r\nHost: stadium\r\n\r\n`);
      const head = responseOf(await connection.read({ head: true, timeoutMs }));
      expect(head, `HEAD ${path}`).toMatchObject({ status, body: '' });
      expect(head.headers.allow).toBe(allow);
      expect(head.headers['content-type']).toBe('application/json');
    }
    connection.write('GET /healthz HTTP/1.1\r\nHost: stadium\r\n\r\n');
    expect(responseOf(await connection.read({ timeoutMs }))).toMatchObject({ status: 200 });
  });

  it('a wrong method names the methods the route takes, HEAD among them', async () => {
    const server = await start();
    const response = await fetch(`${server.url}/healthz`, { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    expect(await response.json()).toMatchObject({ code: 'method-not-allowed' });
  });
});

describe('GET /v1/ws without an upgrade', () => {
  it('is told to upgrade: 426 JSON with Upgrade: websocket, while WebSocket clients still connect', async () => {
    const server = await start();
    const plain = await fetch(`${server.url}/v1/ws`);
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
    expect(await plain.json()).toMatchObject({
      code: 'upgrade-required',
      error: expect.stringContaining('Sec-WebSocket-Key'),
    });
    // An upgrade request without its key is not one either.
    const keyless = responseOf(
      await rawRequest(
        server.port,
        'GET /v1/ws HTTP/1.1\r\nHost: stadium\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
        { timeoutMs },
      ),
    );
    expect(keyless.status).toBe(426);
    expect(JSON.parse(keyless.body)).toMatchObject({ code: 'upgrade-required' });
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'ping' });
    await waitFor(() => ws.messages.find((m) => m.type === 'pong'), 'pong');
  });
});

describe('what uWebSockets.js answers itself (see "Behind a reverse proxy" in the README)', () => {
  it('HTTP/1.0 gets its HTML 505 and the connection closes: a proxy must speak HTTP/1.1 to Stadium', async () => {
    const server = await start();
    const outcome = await rawRequest(server.port, 'GET /healthz HTTP/1.0\r\nHost: stadium\r\n\r\n', {
      timeoutMs,
    });
    expect(outcome.kind).toBe('response');
    const response = responseOf(outcome);
    expect(response.status).toBe(505);
    expect(response.headers.connection).toBe('close');
    expect(response.body).toContain('<h1>HTTP Version Not Supported</h1>');
  });

  it('no Host is a 400 page, a head over 4 KiB a 431 page', async () => {
    const server = await start();
    const statusOf = async (request: string): Promise<number> => {
      const response = responseOf(await rawRequest(server.port, request, { timeoutMs }));
      expect(response.body).toContain('uWebSockets/20 Server');
      return response.status;
    };
    expect(await statusOf('GET /healthz HTTP/1.1\r\nAccept: */*\r\n\r\n')).toBe(400);
    expect(await statusOf(`GET /healthz HTTP/1.1\r\nHost: s\r\nCookie: ${'c'.repeat(4_100)}\r\n\r\n`)).toBe(
      431,
    );
  });
});
