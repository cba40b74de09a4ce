// Goal: once shutdown begins, every way in answers the one `503 shutting-down` (a publish with a
// hint to retry), and every publish still waiting for the core is answered 503 too, alone or as
// one event of a batch; /healthz says `shutting-down`.
// Method: a role-all server whose Redis store (a closed port) never answers, so publishes wait for
// the store timeout, and whose frontend registers with a socket that never answers, so the subscribe
// an open stream sent keeps shutdown in its grace period. New requests go over a keep-alive
// connection opened before the close (the listening socket is closed at once).
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RawHttp } from './test-http.ts';
import type { RawResponse } from './test-http.ts';
import { cleanups, closeTestServers, metric, openStream, publish, servers, start } from './test-server.ts';
import { waitFor } from './wait-for.ts';

afterEach(closeTestServers);

/** A peer that accepts connections and never answers: what is sent to it stays in flight. */
async function silentPeer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function ask(connection: RawHttp, request: string): Promise<RawResponse> {
  connection.write(request);
  const outcome = await connection.read({ timeoutMs: 2_000 });
  if (outcome.kind !== 'response')
    throw new Error(`no response to ${request.split('\r\n')[0]}: ${outcome.kind}`);
  return outcome.response;
}

const shuttingDown = { code: 'shutting-down', error: 'this node is shutting down' };

describe('shutdown', () => {
  it('new work and waiting publishes are answered 503 shutting-down; /healthz says so', async () => {
    const server = await start({
      store: 'redis://127.0.0.1:1',
      storeTimeoutMs: '10000',
      dispatchers: await silentPeer(),
      shutdownGraceMs: '3000',
    });
    const connection = await RawHttp.connect(server.port);
    expect((await ask(connection, 'GET /healthz HTTP/1.1\r\nHost: s\r\n\r\n')).status).toBe(503);
    await openStream(`${server.url}/v1/stream?topic=t`);
    const single = publish(server.url, { topic: 't', payload: 'x' });
    const batch = publish(server.url, [
      { topic: 't', payload: 'x' },
      { topic: 'bad topic', payload: 'x' },
    ]);
    await waitFor(
      async () => (await metric(server, 'stadium_store_request_seconds_count', { outcome: 'error' })) >= 2,
      'both publishes waiting on the store',
    );

    const closing = server.close();
    servers.splice(servers.indexOf(server), 1);
    const alone = await single;
    expect(alone.status).toBe(503);
    expect(alone.json).toEqual(shuttingDown);
    expect(alone.headers.get('retry-after')).toBe('1');
    const together = await batch;
    expect(together.status).toBe(200);
    expect(together.json.results).toEqual([
      { status: 503, ...shuttingDown },
      { status: 400, code: 'bad-topic', error: expect.any(String) },
    ]);

    const body = '{"topic":"t","payload":"x"}';
    const refused = await ask(
      connection,
      `POST /v1/publish HTTP/1.1\r\nHost: s\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toEqual(shuttingDown);
    expect(refused.headers).toMatchObject({ 'retry-after': '1', 'access-control-allow-origin': '*' });
    const stream = await ask(connection, 'GET /v1/stream?topic=t HTTP/1.1\r\nHost: s\r\n\r\n');
    expect(stream.status).toBe(503);
    expect(JSON.parse(stream.body)).toEqual(shuttingDown);
    expect(stream.headers['access-control-allow-origin']).toBe('*');
    const health = await ask(connection, 'GET /healthz HTTP/1.1\r\nHost: s\r\n\r\n');
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'shutting-down' });
    const upgrade = await ask(
      connection,
      'GET /v1/ws HTTP/1.1\r\nHost: s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect(upgrade.status).toBe(503);
    expect(JSON.parse(upgrade.body)).toEqual(shuttingDown);
    await closing;
  });
});
