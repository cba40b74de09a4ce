// Goal: the fault measurements' viewers record exactly what arrives: the wire viewer (SSE and
// WebSocket) and the client library behind prod/client-viewer.ts (SSE, and WebSocket over
// prod/node-websocket.ts) record every event once with its position and their joins, and the wire
// viewer, its connection dropped, reconnects and resumes from its cursor without a miss or a repeat.
// Method: one reliable `stadium serve` in this process (memory store); each viewer kind on one
// topic; publishes before and after a bounce; prod/reliable-check.ts judges the logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientViewer } from './client-viewer.ts';
import { NodeWebSocket } from './node-websocket.ts';
import { checkDefaults, checkReliable, noFaults } from './reliable-check.ts';
import type { PublishOutcome } from './reliable-check.ts';
import { wireViewer } from './reliable-viewer.ts';
import type { FaultViewer, ViewerFactory } from './reliable-viewer.ts';
import type { RunningServer } from './server.ts';
import { closeTestServers, publish, start } from './test-server.ts';
import { sleep, waitFor } from './wait-for.ts';

let server: RunningServer;
beforeAll(async () => {
  server = await start({ mode: 'reliable', dc: 'dc-a' });
});
afterAll(closeTestServers);

/** Publish `names` to `topic`, each with the id `<topic>.<name>` (ids are unique across topics). */
async function publishAll(topic: string, names: string[], into: PublishOutcome[]): Promise<void> {
  for (const id of names.map((name) => `${topic}.${name}`)) {
    const sentAtMs = Date.now();
    const answer = await publish(server.url, { topic, payload: id, id });
    const position = answer.json.position as { epoch: number; seq: number } | undefined;
    into.push({
      id,
      topic,
      dc: 'dc-a',
      sentAtMs,
      answeredAtMs: Date.now(),
      status: answer.status,
      position: position ?? null,
      warning: null,
    });
  }
}

const kinds: [string, ViewerFactory, 'sse' | 'ws'][] = [
  ['wire SSE', (spec) => wireViewer(spec), 'sse'],
  ['wire WebSocket', (spec) => wireViewer(spec), 'ws'],
  ['client library SSE', clientViewer, 'sse'],
  ['client library WebSocket', clientViewer, 'ws'],
];

describe('fault-measurement viewers against a reliable server', () => {
  for (const [kind, factory, transport] of kinds) {
    it(`${kind}: every event once, with its position and the join`, async () => {
      const topic = `viewer-${transport}-${Math.random().toString(16).slice(2, 8)}`;
      const viewer: FaultViewer = await factory({
        name: kind,
        dc: 'dc-a',
        transport,
        frontends: [server.url],
        first: 0,
        topics: [topic],
      });
      try {
        await waitFor(() => viewer.log.joins.length > 0, `${kind} to join`);
        await sleep(5); // The judge owes a viewer only what was sent after the millisecond it joined.
        const publishes: PublishOutcome[] = [];
        const fromMs = Date.now();
        await publishAll(topic, ['e1', 'e2', 'e3'], publishes);
        await waitFor(() => viewer.log.events.length >= 3, `${kind} to receive 3 events`);
        expect(viewer.log.events.map((e) => [e.id, e.position?.dc, e.position?.seq])).toEqual([
          [`${topic}.e1`, 'dc-a', 1],
          [`${topic}.e2`, 'dc-a', 2],
          [`${topic}.e3`, 'dc-a', 3],
        ]);
        expect(viewer.log.joins[0]).toMatchObject({ topic, position: { dc: 'dc-a', seq: 0 } });
        if (viewer.bounce !== undefined) {
          viewer.bounce();
          await publishAll(topic, ['e4', 'e5'], publishes);
          await waitFor(() => viewer.log.events.length >= 5, `${kind} to resume and catch up`);
          expect(viewer.log.connections).toHaveLength(2);
        }
        const result = checkReliable(publishes, [viewer], noFaults, { ...checkDefaults, fromMs });
        expect(result.totals).toMatchObject({ lost: 0, duplicates: 0, inversions: 0, holes: 0, behind: 0 });
        expect(result.totals.received).toBe(publishes.length);
      } finally {
        viewer.close();
      }
    });
  }

  it('the Node WebSocket: refused upgrades end in error then close (1006), once', async () => {
    const socket = new NodeWebSocket(`${server.url.replace('http', 'ws')}/v1/nothing-here`);
    const seen: string[] = [];
    socket.onerror = () => seen.push('error');
    socket.onclose = (event) => seen.push(`close ${event.code}`);
    await waitFor(() => seen.includes('close 1006'), 'the close');
    expect(seen).toEqual(['error', 'close 1006']);
    expect(socket.readyState).toBe(3);
  });
});
