/**
 * How long a client-library viewer is without its stream when its frontend is restarted gracefully
 * (SIGTERM, then started again): the README's "Restarting frontends" numbers.
 *
 *   node --import tsx scripts/frontend-restart.ts [--mode best-effort|reliable] [--transport sse|ws] [--runs N]
 *
 * One datacenter of `stadium serve` processes (a dispatcher with the memory store, two frontends);
 * one viewer made with stadium/client, given both frontends; a publish every 20 ms. Each run sends
 * SIGTERM to the frontend the viewer is on (over 10 s after its previous run, so the client's backoff
 * starts from its first step), measures the time from the signal to the viewer's next
 * `open` and to its first event after the signal, counts the events it never received (reliable
 * mode resumes from its cursor: none), and starts that frontend again before the next run.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NodeWebSocket } from '../prod/node-websocket.ts';
import { createClient, stableOpenMs } from '../client/index.ts';
import type { ConnectionState, Event } from '../client/index.ts';
import { startCluster } from '../prod/index.ts';
import type { ClusterNode } from '../prod/index.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'reliable' },
    transport: { type: 'string', default: 'sse' },
    runs: { type: 'string', default: '10' },
  },
});
const mode = values.mode === 'best-effort' ? 'best-effort' : 'reliable';
const transport = values.transport === 'ws' ? 'ws' : 'sse';
const runs = Number(values.runs);

const cluster = await startCluster({
  mode,
  dcs: 1,
  frontends: 2,
  dispatchers: 1,
  redis: null,
  redisPrefix: 'unused:',
  host: '127.0.0.1',
  basePort: 20_000 + Math.floor(Math.random() * 10_000),
  leaseMs: null,
  logLevel: 'error',
  serveArgs: [],
  command: { file: process.execPath, args: [join(import.meta.dirname, '..', 'bin', 'stadium.js')] },
  logSink: () => {},
  readyTimeoutMs: 30_000,
});
const dc = cluster.dcs[0]!;
const dispatcher = dc.dispatchers[0]!;
const frontends = dc.frontends;

const received = new Set<number>();
let state: ConnectionState = 'connecting';
let lastOpenAt = 0;
let lastEventAt = 0;
let url = '';
// Node 20 has no WebSocket of its own: the client library takes prod's small one.
const client = createClient<number>({
  url: frontends.map((f) => f.url),
  transport,
  topics: ['restart'],
  WebSocket: NodeWebSocket,
});
client.on('state', (next) => {
  state = next;
  if (next === 'open') lastOpenAt = performance.now();
});
client.on('event', (event: Event<number>) => {
  received.add(event.payload);
  lastEventAt = performance.now();
});

let published = 0;
let publishing = true;
const publisher = (async () => {
  while (publishing) {
    const n = published++;
    await fetch(`${dispatcher.url}/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'restart', payload: n }),
    }).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
})();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(2);
  }
}

/** The frontend the viewer's stream is on: the one whose /metrics counts a connection. */
async function viewersFrontend(): Promise<ClusterNode> {
  for (const frontend of frontends) {
    const health = (await (await fetch(`${frontend.url}/healthz`)).json()) as { connections?: number };
    if ((health.connections ?? 0) > 0) return frontend;
  }
  throw new Error('the viewer is on no frontend');
}

const results: { openMs: number; eventMs: number; missed: number }[] = [];
try {
  await until(() => state === 'open' && received.size > 0);
  for (let run = 0; run < runs; run++) {
    // Past the client's stableOpenMs, so each restart finds it at its first backoff step, as a
    // rolling restart with more than 10 s between frontends does.
    await sleep(stableOpenMs + 500);
    const target = await viewersFrontend();
    url = target.url;
    const from = published;
    const signalAt = performance.now();
    const killed = cluster.kill(target, 'SIGTERM');
    await until(() => lastOpenAt > signalAt && lastEventAt > lastOpenAt);
    const openMs = lastOpenAt - signalAt;
    const eventMs = lastEventAt - signalAt;
    await killed;
    await cluster.restart(target);
    await sleep(1_000);
    const to = published - 20;
    let missed = 0;
    for (let n = from; n < to; n++) if (!received.has(n)) missed++;
    results.push({ openMs: Math.round(openMs), eventMs: Math.round(eventMs), missed });
    process.stderr.write(
      `run ${run + 1}: ${url} stopped; open again after ${Math.round(openMs)} ms, first event after ${Math.round(eventMs)} ms, missed ${missed}\n`,
    );
  }
} finally {
  publishing = false;
  await publisher;
  client.close();
  await cluster.stop();
}

const sorted = (key: 'openMs' | 'eventMs'): number[] => results.map((r) => r[key]).sort((a, b) => a - b);
const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)]!;
process.stdout.write(
  `${JSON.stringify({
    mode,
    transport,
    runs,
    openMs: { median: median(sorted('openMs')), max: Math.max(...sorted('openMs')) },
    firstEventMs: { median: median(sorted('eventMs')), max: Math.max(...sorted('eventMs')) },
    missed: results.reduce((sum, r) => sum + r.missed, 0),
  })}\n`,
);
