// Goal: a publisher-chosen id can never suppress an event it did not publish. Server ids are
// predictable (a counter), so the attack is to publish the next one before the server assigns it.
// Method: a real server and an SSE viewer; predict the next server id from the last reply, try to
// take it, and check that every real publish still reaches the viewer.
import { afterEach, describe, expect, it } from 'vitest';
import { closeTestServers, openStream, publish, start } from './test-server.ts';
import { waitFor } from './wait-for.ts';

afterEach(closeTestServers);

describe('publisher ids and server ids never share a namespace', () => {
  it('taking the next server id is refused 400, and the real publish that gets it is delivered', async () => {
    const server = await start();
    const stream = await openStream(`${server.url}/v1/stream?topic=likes`);
    const first = await publish(server.url, { topic: 'likes', payload: 'real 1' });
    expect(first.status).toBe(200);
    const assigned = String(first.json.id);
    const counter = /^(.*-)(\d+)$/.exec(assigned);
    expect(counter, `a server id ends with a counter: ${assigned}`).not.toBeNull();
    const next = `${counter![1]}${Number(counter![2]) + 1}`;

    const squat = await publish(server.url, { topic: 'likes', payload: 'squatter', id: next });
    expect(squat.status).toBe(400);
    expect(squat.json).toMatchObject({ code: 'bad-id' });
    expect(String(squat.json.error)).toContain('reserved for the ids servers assign');
    const batch = await publish(server.url, [{ topic: 'likes', payload: 'squatter', id: next }]);
    expect(batch.json).toMatchObject({ results: [{ status: 400, code: 'bad-id' }] });

    const second = await publish(server.url, { topic: 'likes', payload: 'real 2' });
    expect(second.json.id).toBe(next);
    await waitFor(() => stream.events().length >= 2, 'both real events');
    expect(stream.events().map((event) => event.payload)).toEqual(['real 1', 'real 2']);
  });

  it("a publisher's own ids still make retries idempotent", async () => {
    const server = await start();
    const stream = await openStream(`${server.url}/v1/stream?topic=likes`);
    for (let attempt = 0; attempt < 2; attempt++) {
      const reply = await publish(server.url, { topic: 'likes', payload: 'once', id: 'like-42-1' });
      expect(reply.json).toEqual({ id: 'like-42-1' });
    }
    await publish(server.url, { topic: 'likes', payload: 'after' });
    await waitFor(() => stream.events().length >= 2, 'the events');
    expect(stream.events().map((event) => event.payload)).toEqual(['once', 'after']);
  });
});
