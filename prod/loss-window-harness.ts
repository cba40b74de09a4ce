/**
 * The loss-window measurement's processes and viewers: ports, the `stadium serve` command tied to
 * this process' life, signals to a node (SIGSTOP, SIGCONT), and the raw SSE and WebSocket viewers
 * on every frontend. The deployment itself is a private `redis-server` (prod/redis-server-process.ts)
 * and `startCluster` (prod/cluster.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterNode } from './cluster.ts';
import type { LossWindowOptions } from './loss-window-measure.ts';
import { sseViewer, wsViewer } from './raw-viewers.ts';
import type { RawViewer } from './raw-viewers.ts';

/** A port below the kernel's ephemeral range, drawn at random so concurrent runs rarely race. */
export function randomPort(): number {
  return 10_000 + Math.floor(Math.random() * 20_000);
}

const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path)) ?? null;

/** `node bin/stadium.js`, tied to this process' life where `setpriv` can do it. */
export function stadiumCommand(): { file: string; args: string[] } {
  const bin = join(import.meta.dirname, '..', 'bin', 'stadium.js');
  return setpriv === null
    ? { file: process.execPath, args: [bin] }
    : { file: setpriv, args: ['--pdeathsig', 'KILL', '--', process.execPath, bin] };
}

export function signal(node: ClusterNode, name: NodeJS.Signals): void {
  try {
    process.kill(node.pid, name);
  } catch {
    // Already gone.
  }
}

export async function connectViewers(
  options: LossWindowOptions,
  frontends: ClusterNode[],
  topic: string,
): Promise<RawViewer[]> {
  const viewers: RawViewer[] = [];
  for (const frontend of frontends) {
    const short = frontend.name.split('/').at(-1);
    for (let i = 1; i <= options.sseViewersPerFrontend; i++) {
      viewers.push(await sseViewer(`${short}/sse-${i}`, frontend.url, topic));
    }
    for (let i = 1; i <= options.wsViewersPerFrontend; i++) {
      viewers.push(await wsViewer(`${short}/ws-${i}`, frontend.url, topic));
    }
  }
  return viewers;
}
