/**
 * A private `redis-server` for measurements that kill and restart the store: its own port, nothing
 * kept on disk (so a restart comes back empty, as a cache-only Redis does), bound to 127.0.0.1.
 * It never touches a Redis it did not start. Where util-linux' `setpriv` exists the server is tied
 * to this process' life (`--pdeathsig KILL`), so a harness killed mid-run leaves no server behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { sleep } from './wait-for.ts';

export interface RedisServerProcess {
  readonly port: number;
  readonly url: string;
  /** The running server's pid (a new one after each restart). */
  pid(): number;
  /** SIGKILL, and resolve once the process is gone. */
  kill(): Promise<void>;
  /** Start again on the same port (empty), and resolve once it answers PING. */
  restart(): Promise<void>;
  /** Stop for good (SIGKILL: there is nothing to save). */
  stop(): Promise<void>;
}

export class RedisServerError extends Error {
  override name = 'RedisServerError';
}

const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path)) ?? null;

/**
 * `command` (file, then arguments) tied to this process' life where util-linux' `setpriv` exists:
 * the kernel kills the child when this process dies, SIGKILL included. Elsewhere `command` as is.
 */
export function tiedToThisProcess(command: readonly string[]): string[] {
  return setpriv === null ? [...command] : [setpriv, '--pdeathsig', 'KILL', '--', ...command];
}

/** Whether a `redis-server` binary can be run here. */
export function redisServerAvailable(binary = 'redis-server'): boolean {
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 5_000 });
  return probe.error === undefined && probe.status === 0;
}

export async function startRedisServer(port: number, binary = 'redis-server'): Promise<RedisServerProcess> {
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';
  const launch = async (): Promise<void> => {
    const command = [
      binary,
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ...['--dir', tmpdir(), '--loglevel', 'warning'],
    ];
    const [file, ...args] = tiedToThisProcess(command);
    const started = spawn(file as string, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    started.stderr?.setEncoding('utf8');
    started.stderr?.on('data', (text: string) => (stderr = (stderr + text).slice(-2_000)));
    child = started;
    exited = new Promise((resolve) => started.once('exit', () => resolve()));
    const deadline = Date.now() + 5_000;
    while (!(await answersPing(port))) {
      if (started.exitCode !== null || started.signalCode !== null) {
        throw new RedisServerError(`redis-server on port ${port} exited at start: ${stderr.trim()}`);
      }
      if (Date.now() > deadline) {
        started.kill('SIGKILL');
        throw new RedisServerError(`redis-server on port ${port} did not answer PING within 5 s`);
      }
      await sleep(10);
    }
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (running === null || running.exitCode !== null || running.signalCode !== null) return;
    running.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => child?.pid ?? -1,
    kill,
    restart: launch,
    stop: kill,
  };
}

/** One PING over a fresh connection: true on `+PONG`. */
export function answersPing(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
