// Goal: a real multi-datacenter deployment keeps its promises end to end: one event published in
// dc-a reaches EventSource and WebSocket viewers in dc-a and dc-b exactly once; bad input gets its
// errors; a SIGKILLed frontend is forgotten once its lease expires and its viewers, reconnecting to
// another frontend, get later events; SIGTERM stops everything.
// Method: `stadium cluster --dcs 2 --frontends 2 --dispatchers 2 --redis ...` as child processes
// (a unique Redis prefix, free ports, a 1.5 s lease), driven by `eventsource`, `ws` and fetch.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ClusterDc } from './cluster.ts';
import { RedisStore } from './redis-store.ts';
import { redisGate, redisUrl, uniquePrefix } from './test-gate.ts';
import { sleep, waitFor } from './wait-for.ts';

const redis = await redisGate();
const prefix = uniquePrefix('e2e');
const leaseMs = 1_500;
/**
 * A base port below the kernel's ephemeral range, drawn at random so that clusters started by test
 * files running side by side do not race for the same ports (the cluster skips busy ones).
 */
function randomBasePort(): number {
  return 10_000 + Math.floor(Math.random() * 20_000);
}

interface Viewer {
  name: string;
  events: { id: string; payload: string; origin: string }[];
  notices: { code: string }[];
  close(): void;
}

const closers: (() => void)[] = [];

function sseViewer(name: string, url: string): Promise<Viewer> {
  const source = new EventSource(url);
  const viewer: Viewer = { name, events: [], notices: [], close: () => source.close() };
  closers.push(viewer.close);
  source.addEventListener('message', (m) =>
    viewer.events.push(JSON.parse(m.data) as Viewer['events'][number]),
  );
  source.addEventListener('notice', (m) => viewer.notices.push(JSON.parse(m.data) as { code: string }));
  return new Promise((resolve, reject) => {
    source.addEventListener('open', () => resolve(viewer));
    source.addEventListener('error', () => reject(new Error(`${name}: EventSource failed`)), { once: true });
  });
}

function wsViewer(
  name: string,
  url: string,
  topic: string,
): Promise<Viewer & { messages: Record<string, unknown>[]; socket: WebSocket }> {
  const socket = new WebSocket(url);
  const viewer = {
    name,
    events: [],
    notices: [],
    messages: [] as Record<string, unknown>[],
    socket,
    close: () => socket.terminate(),
  };
  closers.push(viewer.close);
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as Record<string, unknown>;
    viewer.messages.push(message);
    if (message.type === 'event')
      (viewer.events as Viewer['events']).push(message as unknown as Viewer['events'][number]);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'subscribe', topic }));
      void waitFor(() => viewer.messages.find((m) => m.type === 'subscribed'), `${name} subscribed`).then(
        () => resolve(viewer),
        reject,
      );
    });
  });
}

async function publish(
  dispatcher: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${dispatcher}/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** Publish probes until every viewer has seen one: registration has reached every store. */
async function untilRegistered(dispatcher: string, topic: string, viewers: Viewer[]): Promise<void> {
  let n = 0;
  await waitFor(
    async () => {
      await publish(dispatcher, { topic, payload: 'probe', id: `probe-${topic}-${n++}` });
      await sleep(50);
      return viewers.every((v) => v.events.some((e) => e.payload === 'probe'));
    },
    `registration of ${viewers.map((v) => v.name).join(', ')}`,
  );
}

async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

if (!redis.up && !redis.required) {
  it.skip(redis.skipMessage, () => {});
} else {
  describe('stadium cluster: 2 datacenters x (2 dispatchers + 2 frontends), Redis store', () => {
    let cluster: ChildProcess;
    let exit: Promise<number | null>;
    let dcs: ClusterDc[];
    let log = '';
    const dc = (name: string): ClusterDc => dcs.find((d) => d.name === name)!;

    beforeAll(async () => {
      if (!redis.up) throw new Error(redis.requiredMessage);
      const bin = join(import.meta.dirname, '..', 'bin', 'stadium.js');
      cluster = spawn(
        process.execPath,
        [
          bin,
          'cluster',
          ...['--dcs', '2', '--frontends', '2', '--dispatchers', '2', '--redis', redisUrl],
          ...[
            '--redis-prefix',
            prefix,
            '--base-port',
            String(randomBasePort()),
            '--lease-ms',
            String(leaseMs),
          ],
          ...['--log-level', 'warn', '--json'],
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      exit = new Promise((resolve) => cluster.once('exit', (code) => resolve(code)));
      cluster.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
      let stdout = '';
      cluster.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const ready = await waitFor(
        () =>
          stdout.includes('\n')
            ? stdout.slice(0, stdout.indexOf('\n'))
            : cluster.exitCode !== null
              ? 'exited'
              : null,
        'the cluster to be ready',
        45_000,
      );
      if (ready === 'exited') throw new Error(`stadium cluster exited:\n${log}`);
      dcs = (JSON.parse(ready) as { dcs: ClusterDc[] }).dcs;
      expect(dcs.map((d) => [d.name, d.dispatchers.length, d.frontends.length])).toEqual([
        ['dc-a', 2, 2],
        ['dc-b', 2, 2],
      ]);
    }, 60_000);

    afterAll(async () => {
      for (const close of closers.splice(0)) close();
      if (cluster !== undefined && cluster.exitCode === null) {
        cluster.kill('SIGKILL');
        for (const node of dcs?.flatMap((d) => [...d.dispatchers, ...d.frontends]) ?? [])
          killIfOurs(node.pid);
      }
      if (redis.up) {
        const client = new Redis(redisUrl);
        const keys = await client.keys(`${prefix}*`);
        if (keys.length > 0) await client.del(...keys);
        await client.quit();
      }
    });

    it('an event published in dc-a reaches EventSource and WebSocket viewers in dc-a and dc-b exactly once', async () => {
      const topic = 'match:42';
      const [a1, a2] = dc('dc-a').frontends.map((f) => f.url) as [string, string];
      const [b1, b2] = dc('dc-b').frontends.map((f) => f.url) as [string, string];
      const viewers = [
        await sseViewer('sse@dc-a', `${a1}/v1/stream?topic=${topic}`),
        await wsViewer('ws@dc-a', `${a2.replace('http', 'ws')}/v1/ws`, topic),
        await sseViewer('sse@dc-b', `${b1}/v1/stream?topic=${topic}`),
        await wsViewer('ws@dc-b', `${b2.replace('http', 'ws')}/v1/ws`, topic),
      ];
      const [d1, d2] = dc('dc-a').dispatchers.map((d) => d.url) as [string, string];
      await untilRegistered(d1, topic, viewers);

      // (The reply may carry a warning: the stores are younger than one renewal period.)
      expect(await publish(d2, { topic, payload: 'GOAL ⚽', id: 'goal-1' })).toMatchObject({
        status: 200,
        json: { id: 'goal-1' },
      });
      // The publisher's retry with the same id (to the other dispatcher) must not reach anyone twice.
      expect(await publish(d1, { topic, payload: 'GOAL ⚽', id: 'goal-1' })).toMatchObject({
        status: 200,
        json: { id: 'goal-1' },
      });
      await waitFor(() => viewers.every((v) => v.events.some((e) => e.id === 'goal-1')), 'goal-1 everywhere');
      await sleep(500);
      for (const viewer of viewers) {
        const goals = viewer.events.filter((e) => e.id === 'goal-1');
        expect(goals, viewer.name).toHaveLength(1);
        expect(goals[0], viewer.name).toMatchObject({ payload: 'GOAL ⚽', origin: 'dc-a' });
      }
      for (const viewer of viewers) viewer.close();
    });

    it('bad input against the cluster gets its errors, and everyone else keeps being served', async () => {
      const dispatcher = dc('dc-a').dispatchers[0]!.url;
      const frontend = dc('dc-b').frontends[0]!.url;
      expect(await publish(dispatcher, '{"topic": nope')).toMatchObject({
        status: 400,
        json: { code: 'malformed-json' },
      });
      expect(await publish(dispatcher, { topic: 'bad topic!', payload: 'x' })).toMatchObject({
        status: 400,
        json: { code: 'bad-topic' },
      });
      expect(await publish(dispatcher, { topic: 't', payload: 'x'.repeat(70_000) })).toMatchObject({
        status: 413,
        json: { code: 'payload-too-large' },
      });
      expect((await fetch(`${dispatcher}/v1/publish`)).status).toBe(405);
      expect((await fetch(`${dispatcher}/v1/stream?topic=t`)).status).toBe(404);
      expect(await publish(frontend, { topic: 't', payload: 'x' })).toMatchObject({
        status: 404,
        json: { code: 'not-found' },
      });
      const tooMany = Array.from({ length: 65 }, (_, i) => `topic=t${i}`).join('&');
      const refused = await fetch(`${frontend}/v1/stream?${tooMany}`);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ code: 'too-many-topics' });
      const ws = await wsViewer('ws', `${frontend.replace('http', 'ws')}/v1/ws`, 'fine');
      ws.socket.send('{not json');
      await waitFor(() => ws.messages.find((m) => m.type === 'error'), 'the error');
      expect(ws.messages.find((m) => m.type === 'error')).toMatchObject({
        status: 400,
        code: 'malformed-json',
      });
      const forged = await fetch(`${frontend}/internal/message`, {
        method: 'POST',
        body: JSON.stringify({ source: 'x', message: { type: 'deliver', event: { id: 'fake' } } }),
      });
      expect(forged.status).toBe(401);
      expect(await publish(dispatcher, { topic: 't', payload: 'still serving' })).toMatchObject({
        status: 200,
      });
      ws.close();
    });

    it('a SIGKILLed frontend stops receiving fan-out once its lease expires; its viewers reconnect elsewhere and get later events', async () => {
      const topic = 'failover';
      const [dead, alive] = dc('dc-a').frontends as [
        ClusterDc['frontends'][number],
        ClusterDc['frontends'][number],
      ];
      const dispatchers = dc('dc-a').dispatchers.map((d) => d.url);
      const viewer = await sseViewer('viewer', `${dead.url}/v1/stream?topic=${topic}`);
      await untilRegistered(dispatchers[0]!, topic, [viewer]);
      const lastSeen = viewer.events.at(-1)!.id;
      const store = new RedisStore({ url: redisUrl, prefix: `${prefix}dc-a:` });
      await store.ready();
      try {
        expect(await store.request({ op: 'lookup', topic })).toMatchObject({
          op: 'frontends',
          frontends: [dead.url],
          lapsed: [],
        });

        process.kill(dead.pid, 'SIGKILL');
        const killedAt = Date.now();
        viewer.close();
        // Until the lease expires the dispatchers still try the dead frontend (and fail).
        const failedSends = (): Promise<number> =>
          Promise.all(
            dispatchers.map((d) => metric(d, 'stadium_internal_sends_total', { outcome: 'failed' })),
          ).then((n) => n.reduce((a, b) => a + b, 0));
        const failedBefore = await failedSends();
        await publish(dispatchers[0]!, { topic, payload: 'into the void' });
        await waitFor(async () => (await failedSends()) > failedBefore, 'a failed send to the dead frontend');

        const forgotten = await waitFor(async () => {
          const reply = await store.request({ op: 'lookup', topic });
          return reply.op === 'frontends' && reply.frontends.length === 0 ? Date.now() : null;
        }, 'the lease to expire');
        // It lapsed without an unsubscribe: publishes now say some viewers may miss them.
        expect(await store.request({ op: 'lookup', topic })).toMatchObject({ lapsed: [dead.url] });
        expect(await publish(dispatchers[1]!, { topic, payload: 'warned' })).toMatchObject({
          status: 200,
          json: { warning: { code: 'frontend-lapsed' } },
        });
        expect(forgotten - killedAt).toBeLessThan(leaseMs + 1_500);
        const failedAfterExpiry = await failedSends();
        for (let i = 0; i < 3; i++) await publish(dispatchers[i % 2]!, { topic, payload: `nobody-${i}` });
        await sleep(300);
        expect(await failedSends()).toBe(failedAfterExpiry);

        // The viewer reconnects to the other frontend, resuming from the last event it saw.
        const resumed = await sseViewer(
          'resumed',
          `${alive.url}/v1/stream?topic=${topic}&lastEventId=${lastSeen}`,
        );
        await waitFor(() => resumed.notices.length > 0, 'the history notice');
        expect(resumed.notices[0]).toMatchObject({ code: 'history-unavailable' });
        await untilRegistered(dispatchers[1]!, topic, [resumed]);
        expect(await publish(dispatchers[0]!, { topic, payload: 'later', id: 'later-1' })).toMatchObject({
          status: 200,
        });
        await waitFor(() => resumed.events.some((e) => e.id === 'later-1'), 'the later event');
        expect(await store.request({ op: 'lookup', topic })).toMatchObject({
          op: 'frontends',
          frontends: [alive.url],
        });
        resumed.close();
      } finally {
        await store.close();
      }
    });

    it('SIGTERM stops every process and exits 0', async () => {
      const pids = dcs.flatMap((d) => [...d.dispatchers, ...d.frontends]).map((n) => n.pid);
      cluster.kill('SIGTERM');
      expect(await exit).toBe(0);
      for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow();
    }, 20_000);
  });
}

/**
 * SIGKILL a cluster node left behind, but only if that pid still runs `stadium serve`: pids are
 * recycled quickly here, and a blind kill once took down an unrelated process (a test's tmux).
 */
function killIfOurs(pid: number): void {
  let command = '';
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // Already gone.
  }
  if (!command.includes('stadium.js') || !command.includes('serve')) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Exited in between.
  }
}
