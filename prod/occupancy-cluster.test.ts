// Goal: viewer counts converge to the truth across real processes and datacenters: 150 SSE and 150
// WebSocket viewers on two frontends (one per datacenter) all come to see the exact count; after a
// batch of them leaves, all see the new count; and once one frontend process is SIGKILLed, its
// viewers leave the count (its lease runs out), and the survivors all see that too.
// Method: `startCluster` (what `stadium cluster` runs): 2 datacenters x (1 dispatcher with a memory
// store + 1 frontend), every node its own `stadium serve` process, a 1.5 s lease and a 500 ms
// interval; raw SSE readers over fetch and `ws` sockets in this process. Waits are generous
// convergence bounds, not timing claims; how long each took is printed.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startCluster } from './cluster.ts';
import type { ClusterDc, RunningCluster } from './cluster.ts';
import { waitFor } from './wait-for.ts';

const leaseMs = 1_500;
const everyMs = 500;
const topic = 'match:final';
/** Per frontend: this many of each transport. */
const perTransport = 75;
/** How long any convergence may take: a lease, a few intervals, and a loaded machine's slack. */
const convergeMs = 15_000;

interface Watcher {
  name: string;
  dc: string;
  /** The last count told, or null before the first. */
  count: number | null;
  byDc: Record<string, number> | null;
  close(): void;
}

/** Below the ephemeral range, at random, so test files running side by side seldom collide. */
function randomBasePort(): number {
  return 10_000 + Math.floor(Math.random() * 20_000);
}

async function sseWatcher(name: string, dc: string, base: string): Promise<Watcher> {
  const controller = new AbortController();
  const watcher: Watcher = { name, dc, count: null, byDc: null, close: () => controller.abort() };
  const response = await fetch(`${base}/v1/stream?topic=${topic}&occupancy=1`, { signal: controller.signal });
  if (!response.ok || response.body === null) throw new Error(`${name}: HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffered = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += value;
        for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (!frame.startsWith('event: occupancy\n')) continue;
          const told = JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as {
            count: number;
            byDc: Record<string, number>;
          };
          watcher.count = told.count;
          watcher.byDc = told.byDc;
        }
      }
    } catch {
      // Closed by the test, or its frontend died.
    }
  })();
  return watcher;
}

function wsWatcher(name: string, dc: string, base: string): Promise<Watcher> {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`);
  const watcher: Watcher = { name, dc, count: null, byDc: null, close: () => socket.terminate() };
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as {
      type: string;
      count: number;
      byDc: Record<string, number>;
    };
    if (message.type !== 'occupancy') return;
    watcher.count = message.count;
    watcher.byDc = message.byDc;
  });
  socket.on('error', () => {});
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'subscribe', topic, occupancy: true }));
      resolve(watcher);
    });
  });
}

/** Until every watcher's last count is `count` and its split `byDc`; resolves with how long it took. */
async function converged(
  watchers: readonly Watcher[],
  count: number,
  byDc: Record<string, number>,
  what: string,
): Promise<number> {
  const startedAt = Date.now();
  const right = (w: Watcher): boolean => w.count === count && JSON.stringify(w.byDc) === JSON.stringify(byDc);
  try {
    await waitFor(() => watchers.every(right), what, convergeMs, 50);
  } catch (error) {
    const wrong = watchers.filter((w) => !right(w)).slice(0, 5);
    throw new Error(
      `${(error as Error).message}: ${watchers.filter((w) => !right(w)).length} of ${watchers.length} watchers off, e.g. ${wrong
        .map((w) => `${w.name}=${w.count} ${JSON.stringify(w.byDc)}`)
        .join(', ')}`,
    );
  }
  return Date.now() - startedAt;
}

describe(`viewer counts across 2 datacenters: ${4 * perTransport} SSE and WebSocket viewers on 2 frontend processes`, () => {
  let cluster: RunningCluster;
  let dcs: ClusterDc[];
  const watchers: Watcher[] = [];
  let log = '';

  beforeAll(async () => {
    cluster = await startCluster({
      dcs: 2,
      frontends: 1,
      dispatchers: 1,
      redis: null,
      redisPrefix: 'unused:',
      host: '127.0.0.1',
      basePort: randomBasePort(),
      leaseMs,
      logLevel: 'warn',
      serveArgs: ['--occupancy-every-ms', String(everyMs)],
      command: { file: process.execPath, args: [join(import.meta.dirname, '..', 'bin', 'stadium.js')] },
      logSink: (line) => (log += `${line}\n`),
      readyTimeoutMs: 45_000,
    });
    dcs = cluster.dcs;
  }, 60_000);

  afterAll(async () => {
    for (const watcher of watchers) watcher.close();
    await cluster?.stop(1_000);
  });

  it('every watcher converges to the exact count; then to the count after a batch leaves; then to the count without a SIGKILLed frontend', async () => {
    const [a, b] = dcs.map((dc) => dc.frontends[0]!) as [
      ClusterDc['frontends'][number],
      ClusterDc['frontends'][number],
    ];
    for (const frontend of [a, b]) {
      const opening: Promise<Watcher>[] = [];
      for (let i = 0; i < perTransport; i++) {
        opening.push(sseWatcher(`sse-${i}@${frontend.dc}`, frontend.dc, frontend.url));
        opening.push(wsWatcher(`ws-${i}@${frontend.dc}`, frontend.dc, frontend.url));
      }
      watchers.push(...(await Promise.all(opening)));
    }
    const total = 4 * perTransport;
    const all = await converged(
      watchers,
      total,
      { 'dc-a': total / 2, 'dc-b': total / 2 },
      `all told ${total}`,
    );

    // The dispatchers answer the same count, and the frontend's /metrics shows it.
    for (const dc of dcs) {
      const answer = await fetch(`${dc.dispatchers[0]!.url}/v1/topics/${topic}/occupancy`);
      expect(await answer.json(), dc.name).toEqual({
        topic,
        count: total,
        byDc: { 'dc-a': total / 2, 'dc-b': total / 2 },
        stale: [],
      });
    }
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^stadium_topic_occupancy\\{topic="${topic}"[^}]*\\} ${total}$`, 'm'));

    // A batch leaves: every other SSE viewer in dc-a, every third WebSocket viewer in dc-b.
    const leaving = watchers.filter(
      (w, i) =>
        (w.dc === 'dc-a' && w.name.startsWith('sse-') && i % 4 === 0) ||
        (w.dc === 'dc-b' && w.name.startsWith('ws-') && i % 3 === 0),
    );
    for (const watcher of leaving) watcher.close();
    const staying = watchers.filter((w) => !leaving.includes(w));
    const inA = staying.filter((w) => w.dc === 'dc-a').length;
    const inB = staying.filter((w) => w.dc === 'dc-b').length;
    expect(inA + inB).toBeLessThan(total);
    const batch = await converged(staying, inA + inB, { 'dc-a': inA, 'dc-b': inB }, `all told ${inA + inB}`);

    // dc-b's frontend dies without a word: its viewers leave the count once its lease runs out.
    await cluster.kill(b, 'SIGKILL');
    const survivors = staying.filter((w) => w.dc === 'dc-a');
    const killed = await converged(survivors, inA, { 'dc-a': inA }, `dc-a's viewers told ${inA}`);
    process.stdout.write(
      `occupancy convergence: ${total} viewers ${all} ms; after ${leaving.length} left ${batch} ms; ` +
        `after SIGKILL of dc-b's frontend ${killed} ms (lease ${leaseMs} ms, interval ${everyMs} ms)\n`,
    );
  }, 90_000);
});
