/**
 * What the loss-window measurement watches while it runs, to time the fault's phases: the topic's
 * hash in Redis (which frontends hold a live lease, read without touching it), every dispatcher's
 * `/healthz` (its view of the store), and at the end every node's counters from `/metrics`.
 */
import { Redis } from 'ioredis';
import type { ClusterNode } from './cluster.ts';
import type { Note } from './loss-window-measure.ts';
import type { RedisServerProcess } from './redis-server-process.ts';
import { sleep } from './wait-for.ts';

const metricFamilies = [
  'stadium_events_published_total',
  'stadium_drops_total',
  'stadium_internal_sends_total',
  'stadium_lease_changes_total',
  'stadium_core_events_total',
];

export interface StoreWatcher {
  stop(): Promise<void>;
  /** Whether the topic's hash was seen empty (or missing) at or after `atMs`. */
  emptiedAfter(atMs: number): boolean;
  /** When the frontend's lease first stopped being live at or after `atMs`, or null. */
  lapsedAfter(frontend: string, atMs: number): number | null;
  /** When the frontend's lease was first granted again at or after `atMs`, or null. */
  liveAgainAfter(frontend: string, atMs: number): number | null;
}

/**
 * Reads the topic's hash and Redis' clock every `everyMs`, without running any of the store's
 * scripts (a lookup would delete the dead entries it meets), and notes every change: the store
 * unreachable or back, each frontend's lease granted or lapsed. A lease's times come from its own
 * value where it tells them (Redis' clock is this machine's): granted at its expiry less `leaseMs`,
 * lapsed at its expiry, or at its removal; only an entry that vanished with the data is timed by
 * when the watcher noticed.
 */
export async function watchStore(
  server: RedisServerProcess,
  key: string,
  names: Map<string, string>,
  leaseMs: number,
  note: Note,
  everyMs: number,
): Promise<StoreWatcher> {
  const client = new Redis(server.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 20,
    connectTimeout: 500,
  });
  client.on('error', () => {});
  await client.connect();
  const changes: { atMs: number; frontend: string | null; live: boolean }[] = [];
  let reachable: boolean | null = null;
  /** Frontend -> its entry when last read: live or not, and when it expires. */
  const last = new Map<string, { live: boolean; expiresAtMs: number }>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const replies = await client.pipeline().time().hgetall(key).exec();
        const [timeReply, hashReply] = replies ?? [];
        const error = timeReply?.[0] ?? hashReply?.[0];
        if (error) throw error;
        const [seconds, micros] = timeReply![1] as [string, string];
        const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
        const hash = hashReply![1] as Record<string, string>;
        const seenAtMs = Date.now();
        if (reachable !== true) note('watcher: Redis reachable', seenAtMs);
        reachable = true;
        if (Object.keys(hash).length === 0) changes.push({ atMs: seenAtMs, frontend: null, live: false });
        for (const [frontend, name] of names) {
          const entry = hash[frontend];
          const before = last.get(frontend);
          if (entry === undefined && before === undefined) continue; // Not registered yet.
          const [expiresAtMs = 0, , , removedAtMs = 0] = (entry ?? '').split(':').map(Number);
          const live = entry !== undefined && removedAtMs === 0 && expiresAtMs > nowMs;
          last.set(frontend, {
            live,
            expiresAtMs: entry === undefined ? (before?.expiresAtMs ?? 0) : expiresAtMs,
          });
          if (before?.live === live) continue;
          let atMs = seenAtMs;
          let how: string;
          if (before === undefined) {
            how = 'live';
          } else if (live) {
            atMs = expiresAtMs - leaseMs;
            how = 'granted';
          } else if (entry !== undefined && removedAtMs > 0) {
            atMs = removedAtMs;
            how = 'removed';
          } else if (entry !== undefined) {
            atMs = expiresAtMs;
            how = 'expired';
          } else if (before.expiresAtMs <= nowMs) {
            // A dispatcher's lookup deleted the dead entry before this read: it expired when it said.
            atMs = before.expiresAtMs;
            how = 'expired (entry since deleted)';
          } else {
            how = 'gone while live (the data was lost)';
          }
          changes.push({ atMs, frontend, live });
          note(`watcher: ${name} lease ${how}`, atMs);
        }
      } catch {
        if (reachable !== false) note('watcher: Redis unreachable');
        reachable = false;
      }
      await sleep(everyMs);
    }
  })();
  const first = (frontend: string, live: boolean, atMs: number): number | null =>
    changes.find((c) => c.atMs >= atMs && c.frontend === frontend && c.live === live)?.atMs ?? null;
  return {
    async stop() {
      running = false;
      await loop;
      client.disconnect();
    },
    emptiedAfter: (atMs) => changes.some((c) => c.atMs >= atMs && c.frontend === null),
    lapsedAfter: (frontend, atMs) => first(frontend, false, atMs),
    liveAgainAfter: (frontend, atMs) => first(frontend, true, atMs),
  };
}

export interface HealthWatcher {
  stop(): Promise<void>;
  /** When every dispatcher reported its store up again at or after `atMs`, or null. */
  storeUpAfter(atMs: number): number | null;
  /** Whether some dispatcher reported its store down. */
  storeDownSeen(): boolean;
}

/** Polls every dispatcher's /healthz and notes each change of its `store` field. */
export function watchHealth(dispatchers: ClusterNode[], note: Note): HealthWatcher {
  let running = true;
  const changes: { atMs: number; node: string; store: string }[] = [];
  const loops = dispatchers.map(async (node) => {
    let last: string | null = null;
    while (running) {
      let store = 'no answer';
      try {
        const response = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(250) });
        store = ((await response.json()) as { store: string }).store;
      } catch {
        // Noted as "no answer".
      }
      if (store !== last) {
        const atMs = Date.now();
        changes.push({ atMs, node: node.name, store });
        note(`${node.name} says store ${store}`, atMs);
      }
      last = store;
      await sleep(20);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
    storeUpAfter(atMs) {
      const ups = dispatchers.map(
        (node) =>
          changes.find((c) => c.atMs >= atMs && c.node === node.name && c.store === 'up')?.atMs ?? null,
      );
      return ups.every((up) => up !== null) ? Math.max(...(ups as number[])) : null;
    },
    storeDownSeen: () => changes.some((c) => c.store === 'down'),
  };
}

export async function readMetrics(nodes: ClusterNode[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const node of nodes) {
    const counters: Record<string, number> = {};
    try {
      const text = await (await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
      for (const line of text.split('\n')) {
        if (!metricFamilies.some((family) => line.startsWith(`${family}{`))) continue;
        const value = Number(line.slice(line.lastIndexOf(' ') + 1));
        if (value === 0) continue;
        const name = line
          .slice(0, line.lastIndexOf(' '))
          .replace(/,?(dc|role)="[^"]*"/g, '')
          .replace('{,', '{');
        counters[name] = value;
      }
    } catch (error) {
      counters[`unreadable: ${String(error)}`] = 1;
    }
    out[node.name] = counters;
  }
  return out;
}
