// Goal: a subscriber's token bounds its connection's life. At the token's `exp` an SSE stream gets
// a `token-expired` notice and ends, a WebSocket gets a `token-expired` error and close code 1008,
// and the frontend forgets both (their topics unregister). A WebSocket may send a fresh token
// before then (`refresh`) and stays; a fresh token that does not cover its topics is refused.
// Method: a real server with --jwt-secret, tokens that expire within about two seconds.
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { closeTestServers, openStream, openWs, publish, start, wsUrl } from './test-server.ts';
import { waitFor } from './wait-for.ts';

afterEach(closeTestServers);

const jwtSecret = 'token-expiry-test-secret';

/** A token for `topics` that expires `inSeconds` after the current whole second. */
function token(topics: string[], inSeconds: number): Promise<string> {
  return new SignJWT({ topics })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + inSeconds)
    .sign(new TextEncoder().encode(jwtSecret));
}

async function health(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
}

describe('a subscribe token bounds its connection', () => {
  it('SSE: a token-expired notice, then the stream ends and the frontend forgets it', async () => {
    const server = await start({ jwtSecret });
    const stream = await openStream(`${server.url}/v1/stream?topic=likes&token=${await token(['likes'], 2)}`);
    expect(stream.status).toBe(200);
    await publish(server.url, { topic: 'likes', payload: 'before' });
    await waitFor(() => stream.events().length === 1, 'the event before expiry');
    await waitFor(() => stream.ended(), 'the stream to end at exp', 5_000);
    expect(stream.notices()).toMatchObject([{ code: 'token-expired' }]);
    expect(stream.frames.at(-1)?.event).toBe('notice');
    await waitFor(async () => (await health(server.url)).connections === 0, 'the connection forgotten');
    expect(await health(server.url)).toMatchObject({ topics: 0 });
  });

  it('WebSocket: a token-expired error and close 1008; a refresh before exp keeps it open', async () => {
    const server = await start({ jwtSecret });
    const expiring = await openWs(wsUrl(server, `?token=${await token(['likes'], 2)}`));
    const refreshed = await openWs(wsUrl(server, `?token=${await token(['likes', 'chat'], 2)}`));
    for (const ws of [expiring, refreshed]) ws.send({ type: 'subscribe', topic: 'likes' });
    await waitFor(
      () => [expiring, refreshed].every((ws) => ws.messages.some((m) => m.type === 'subscribed')),
      'both subscribed',
    );
    // A fresh token must cover what the connection is on: this one does not, and changes nothing.
    refreshed.send({ type: 'refresh', token: await token(['chat'], 60) });
    await waitFor(() => refreshed.messages.find((m) => m.type === 'error'), 'the refused refresh');
    expect(refreshed.messages.find((m) => m.type === 'error')).toMatchObject({
      status: 403,
      code: 'forbidden',
    });
    refreshed.send({ type: 'refresh', token: 'not-a-jwt' });
    await waitFor(
      () => refreshed.messages.filter((m) => m.type === 'error').length === 2,
      'a bad token refused',
    );
    refreshed.send({ type: 'refresh', token: await token(['likes'], 60) });
    await waitFor(() => refreshed.messages.find((m) => m.type === 'refreshed'), 'refreshed');

    await waitFor(() => expiring.closed, 'the expired socket to close', 5_000);
    expect(expiring.closed?.code).toBe(1008);
    expect(expiring.messages.at(-1)).toMatchObject({ type: 'error', status: 401, code: 'token-expired' });
    expect(refreshed.closed).toBeNull();
    await publish(server.url, { topic: 'likes', payload: 'after' });
    await waitFor(() => refreshed.messages.find((m) => m.type === 'event'), 'the event after the first exp');
    expect(await health(server.url)).toMatchObject({ connections: 1 });
  });
});
