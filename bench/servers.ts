/**
 * The servers under test, each its own process: `stadium serve` (through its CLI, as an operator
 * runs it), bare uWebSockets.js, and Socket.IO with the Redis adapter. Plus what the benchmark
 * reads from outside a process: its RSS and CPU time (Linux /proc).
 */
import { readFileSync } from 'node:fs';
import { forkBench, spawnStadium } from './processes.ts';
import type { Child } from './processes.ts';
import type { ServerReady } from './protocol.ts';

export type ServerKind = 'stadium' | 'bare-uws' | 'socketio';

export interface RunningTarget {
  kind: ServerKind;
  /** Base URL, http://127.0.0.1:PORT */
  url: string;
  process: Child;
}

const readyTimeoutMs = 30_000;

/** `stadium serve` with these extra flags, on a free port; resolves once /healthz answers. */
export async function startStadium(
  flags: string[],
  name = 'stadium serve',
  nodeFlags: readonly string[] = [],
): Promise<RunningTarget> {
  const child = spawnStadium(['serve', '--port', '0', '--log-level', 'warn', ...flags], name, nodeFlags);
  try {
    const match = await child.waitForLine(/ at (http:\/\/[^\s]+)/, readyTimeoutMs);
    const url = match[1]!;
    await waitHealthy(url);
    return { kind: 'stadium', url, process: child };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

export async function startBareUws(nodeFlags: readonly string[] = []): Promise<RunningTarget> {
  return startForked('bare-uws', 'bare-uws-server.ts', [], nodeFlags);
}

/** Socket.IO; with a Redis URL its Redis adapter on channels starting with `channelKey`. */
export async function startSocketIo(redisUrl: string | null, channelKey: string): Promise<RunningTarget> {
  return startForked('socketio', 'socketio-server.ts', [redisUrl ?? '', channelKey]);
}

async function startForked(
  kind: ServerKind,
  module: string,
  args: string[],
  nodeFlags: readonly string[] = [],
): Promise<RunningTarget> {
  const child = forkBench(module, kind, args, nodeFlags);
  try {
    const ready = await child.waitFor<ServerReady>('ready', readyTimeoutMs);
    return { kind, url: `http://127.0.0.1:${ready.port}`, process: child };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

async function waitHealthy(url: string): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url}/healthz did not answer within ${readyTimeoutMs} ms`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resident set size of a process in bytes (Linux), or null where /proc is not available. */
export function rssBytes(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** User plus system CPU time of a process in ms (Linux), or null. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}
