// Goal: node-to-node messages (`POST /internal/message`) are never accepted unauthenticated: a
// forged deliver, subscribe or unsubscribe gets 401/403 and changes nothing, on a default server
// (role all, no token configured) and between the nodes of a deployment.
// Method: real servers on free ports, real SSE and WebSocket viewers, an "attacker" HTTP server
// that records any request a forged subscribe would make a dispatcher send it.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { serveConfigFrom } from './config.ts';
import type { RunningServer } from './server.ts';
import {
  cleanups,
  closeTestServers,
  metric,
  openStream,
  openWs,
  publish,
  start,
  startPair,
  wsUrl,
} from './test-server.ts';
import { sleep, waitFor } from './wait-for.ts';

afterEach(closeTestServers);

/** An HTTP server that records every request it gets: where a siphoned topic's events would go. */
async function attacker(): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests };
}

async function postInternal(
  target: RunningServer,
  message: Record<string, unknown>,
  authorization?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${target.url}/internal/message`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: JSON.stringify({ source: 'http://attacker.example', message }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The three forgeries: a fake event to every viewer, a topic siphoned to the attacker, a topic silenced. */
function forgeries(frontendNode: string, attackerUrl: string): Record<string, Record<string, unknown>> {
  return {
    deliver: {
      type: 'deliver',
      event: { id: 'forged-1', topic: 'live', origin: 'dc-a', publishedAtMs: 1, payload: 'forged' },
    },
    subscribe: {
      type: 'subscribe',
      requestId: 1,
      frontend: attackerUrl,
      topic: 'live',
      leaseMs: 600_000,
      generation: 1,
    },
    unsubscribe: {
      type: 'unsubscribe',
      requestId: 2,
      frontend: frontendNode,
      topic: 'live',
      generation: Number.MAX_SAFE_INTEGER,
    },
  };
}

/**
 * Viewers on `frontend`, every forgery refused with `statuses`, then one real publish: it reaches
 * both viewers (nothing was unsubscribed), the forged event never does, the attacker hears nothing.
 */
async function forgeriesChangeNothing(
  frontend: RunningServer,
  dispatcher: RunningServer,
  headers: (string | undefined)[],
): Promise<void> {
  const siphon = await attacker();
  const stream = await openStream(`${frontend.url}/v1/stream?topic=live`);
  const ws = await openWs(wsUrl(frontend));
  ws.send({ type: 'subscribe', topic: 'live' });
  await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'subscribed');
  await waitFor(
    async () => (await metric(dispatcher, 'stadium_lease_changes_total', { change: 'granted' })) >= 1,
    'the frontend lease',
  );

  for (const [kind, message] of Object.entries(forgeries(frontend.nodeId, siphon.url))) {
    for (const authorization of headers) {
      const target = kind === 'deliver' ? frontend : dispatcher;
      const { status, body } = await postInternal(target, message, authorization);
      expect({ kind, authorization, status }).toEqual({
        kind,
        authorization,
        status: authorization === undefined ? 401 : 403,
      });
      expect(body.code).toBe(authorization === undefined ? 'unauthorized' : 'forbidden');
    }
  }

  expect(await publish(dispatcher.url, { topic: 'live', payload: 'real' })).toMatchObject({ status: 200 });
  await waitFor(
    () => stream.events().length >= 1 && ws.messages.some((m) => m.type === 'event'),
    'the real event on both viewers',
  );
  // Give a forged event or a siphoned delivery every chance to show up.
  await sleep(300);
  expect(stream.events().map((e) => e.payload)).toEqual(['real']);
  expect(ws.messages.filter((m) => m.type === 'event').map((m) => m.payload)).toEqual(['real']);
  expect(siphon.requests).toEqual([]);
  expect(await metric(dispatcher, 'stadium_lease_changes_total', { change: 'removed' })).toBe(0);
}

describe('node-to-node messages are never accepted unauthenticated', () => {
  it('a default server (role all, no token given) refuses forged deliver, subscribe and unsubscribe', async () => {
    const server = await start();
    await forgeriesChangeNothing(server, server, [undefined, 'Bearer 0123456789abcdef0123456789abcdef']);
  });

  it('between the nodes of a deployment: without the shared token 401, with a wrong one 403', async () => {
    const { dispatcher, frontend, internalToken } = await startPair();
    await forgeriesChangeNothing(frontend, dispatcher, [undefined, `Bearer ${internalToken}x`]);
  });

  it('a frontend or dispatcher refuses to start without an internal token, or with a short one', () => {
    for (const role of ['frontend', 'dispatcher']) {
      const parsed = serveConfigFrom({ role, dispatchers: 'http://127.0.0.1:7101' }, {});
      expect(parsed).toMatchObject({ ok: false });
      expect(parsed.ok ? '' : parsed.error).toContain(`--role ${role} needs --internal-token`);
    }
    const short = serveConfigFrom({ internalToken: 'guessable' }, {});
    expect(short.ok ? '' : short.error).toContain('--internal-token must be at least 16 characters');
    const fromEnv = serveConfigFrom(
      { role: 'frontend', dispatchers: 'http://127.0.0.1:7101' },
      { STADIUM_INTERNAL_TOKEN: 'from-the-environment-0123' },
    );
    expect(fromEnv).toMatchObject({ ok: true, config: { internalToken: 'from-the-environment-0123' } });
  });
});
