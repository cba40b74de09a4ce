/**
 * Memory per idle connection: RSS of one server process before and after N subscribed, silent
 * connections, divided by N. Stadium runs as a frontend (`--role frontend`) with its dispatcher in
 * another process, so the figure is the frontend's alone. Connections are spread over client
 * processes of at most `connectionsPerProcessMax` each (two for ~19,000).
 */
import { randomBytes } from 'node:crypto';
import { LoadPool } from './load-pool.ts';
import { gcOnSignalFlags } from './processes.ts';
import type { Transport } from './protocol.ts';
import { rssBytes, sleep, startBareUws, startStadium } from './servers.ts';
import type { RunningTarget } from './servers.ts';

export interface MemoryCase {
  server: 'stadium' | 'bare-uws';
  transport: Transport;
  connections: number;
  clientProcesses: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** (rssAfterBytes - rssBeforeBytes) / connections */
  rssBytesPerConnection: number;
  /** From the previous step to this one: (RSS now - RSS then) / (connections now - then); null on the first. */
  rssBytesPerConnectionMarginal: number | null;
}

/** How long RSS is left to settle after the connections open (leases land, buffers are freed). */
const settleMs = 1_000;
const stableRoundsMax = 8;
const stableBytes = 512 * 1024;

/**
 * RSS after a full garbage collection (the server runs with gcOnSignalFlags), so that garbage from
 * start-up (tsx compiling the sources) or from opening connections is not counted either way.
 */
async function liveRss(target: RunningTarget): Promise<number | null> {
  // V8 and malloc hand freed pages back over a few seconds: collect until two readings agree.
  let last: number | null = null;
  for (let round = 0; round < stableRoundsMax; round++) {
    target.process.signal('SIGUSR2');
    await sleep(700);
    const rss = rssBytes(target.process.pid);
    if (rss === null) return null;
    if (last !== null && Math.abs(rss - last) < stableBytes) return rss;
    last = rss;
  }
  return last;
}

export async function benchMemory(
  server: MemoryCase['server'],
  transport: Transport,
  steps: number[],
  connectionsPerProcessMax: number,
  progress: (line: string) => void,
): Promise<MemoryCase[]> {
  const stopped: RunningTarget[] = [];
  let target: RunningTarget;
  if (server === 'stadium') {
    // The two nodes talk to each other, so they share the internal token every multi-node role needs.
    const internal = ['--dc', 'bench', '--internal-token', randomBytes(16).toString('hex')];
    const dispatcher = await startStadium(['--role', 'dispatcher', ...internal], 'stadium dispatcher');
    stopped.push(dispatcher);
    try {
      target = await startStadium(
        ['--role', 'frontend', ...internal, '--dispatchers', dispatcher.url],
        'stadium frontend',
        gcOnSignalFlags(),
      );
    } catch (error) {
      await dispatcher.process.stop();
      throw error;
    }
  } else {
    target = await startBareUws(gcOnSignalFlags());
  }
  stopped.push(target);
  const pool = new LoadPool(transport, target.url, 'bench-idle', connectionsPerProcessMax);
  const cases: MemoryCase[] = [];
  try {
    await sleep(1_000);
    const before = await liveRss(target);
    if (before === null) throw new Error('cannot read RSS from /proc: memory measurement needs Linux');
    for (const connections of steps) {
      const opened = await pool.topUp(connections);
      await sleep(settleMs);
      const after = (await liveRss(target)) ?? before;
      const open = opened.open;
      const previous = cases.at(-1);
      cases.push({
        server,
        transport,
        connections: open,
        clientProcesses: pool.processCount,
        rssBeforeBytes: before,
        rssAfterBytes: after,
        rssBytesPerConnection: Math.round((after - before) / Math.max(1, open)),
        rssBytesPerConnectionMarginal:
          previous === undefined || open === previous.connections
            ? null
            : Math.round((after - previous.rssAfterBytes) / (open - previous.connections)),
      });
      progress(
        `memory ${server} ${transport}: ${open.toLocaleString('en-US')} idle connections, ` +
          `${Math.round((after - before) / Math.max(1, open)).toLocaleString('en-US')} B RSS each` +
          (opened.failed > 0 ? ` (${opened.failed} failed: ${opened.firstError})` : ''),
      );
    }
  } finally {
    await pool.close();
    for (const running of stopped.reverse()) await running.process.stop();
  }
  return cases;
}
