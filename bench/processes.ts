/**
 * Every process the benchmark starts goes through here, so that every one is stopped at the end,
 * on error, on Ctrl-C, and (with SIGKILL) even when the parent exits abruptly. Children forked
 * from bench/ also exit by themselves when their IPC channel closes.
 */
import { fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The tsx loader, by absolute URL, so children start whatever the working directory. Resolved when
 * a child is first started: tsx is a development dependency, and reading a recorded run
 * (`stadium bench --from`) needs no child.
 */
const tsxLoader = (): string => import.meta.resolve('tsx');
const benchDir = import.meta.dirname;
export const repoRoot = join(benchDir, '..');
/** Lines of a child's stderr kept for the error message when it dies. */
const stderrLinesMax = 20;

export class BenchError extends Error {
  override name = 'BenchError';
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** The last lines the child wrote to stderr. */
  stderrTail(): string;
  /** Send an IPC request and wait for the reply with the same `rid`. */
  request<T>(message: { type: string; [field: string]: unknown }, timeoutMs?: number): Promise<T>;
  /** Resolves with the first IPC message of a type (e.g. `ready`). */
  waitFor<T>(type: string, timeoutMs: number): Promise<T>;
  /** Resolves with the first stdout line matching the pattern. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  stop(graceMs?: number): Promise<void>;
  /** Send a signal (e.g. SIGUSR2 to a process started with gcOnSignalFlags). */
  signal(signal: NodeJS.Signals): void;
  readonly exited: boolean;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * Node flags that make a process run a full garbage collection on SIGUSR2 (see gc-on-signal.ts),
 * for the memory measurement.
 */
export function gcOnSignalFlags(): readonly string[] {
  return [
    '--expose-gc',
    '--import',
    tsxLoader(),
    '--import',
    pathToFileURL(join(benchDir, 'gc-on-signal.ts')).href,
  ];
}

/** Fork a TypeScript module of bench/ (e.g. `load-client.ts`) with an IPC channel. */
export function forkBench(
  module: string,
  name: string,
  args: string[] = [],
  nodeFlags: readonly string[] = [],
): Child {
  const child = fork(join(benchDir, module), args, {
    execArgv: ['--import', tsxLoader(), ...nodeFlags],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    cwd: repoRoot,
  });
  return wrap(child, name);
}

/**
 * util-linux' `setpriv`, where there is one: started through it with `--pdeathsig`, a child is
 * killed by the kernel when the benchmark dies, even by SIGKILL (when no exit hook runs). It execs
 * the command, so the pid, CPU time and RSS read from /proc are the child's own.
 */
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path)) ?? null;

/**
 * Start `node bin/stadium.js <args>` (stdout and stderr piped, no IPC). Children forked from bench/
 * exit when their IPC channel closes; `stadium serve` has no such channel, so it is tied to the
 * benchmark's life with `setpriv` instead (without it, only the exit hook stops it).
 */
export function spawnStadium(args: string[], name: string, nodeFlags: readonly string[] = []): Child {
  const command = [process.execPath, ...nodeFlags, join(repoRoot, 'bin', 'stadium.js'), ...args];
  const [file, ...argv] = setpriv === null ? command : [setpriv, '--pdeathsig', 'KILL', '--', ...command];
  const child = spawn(file!, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot });
  return wrap(child, name);
}

function wrap(child: ChildProcess, name: string): Child {
  hookExit();
  live.add(child);
  let exited = false;
  const stderr: string[] = [];
  const stdoutLines: string[] = [];
  const lineWaiters = new Set<(line: string) => void>();
  const exitWaiters = new Set<() => void>();
  let nextRid = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const typeWaiters = new Map<string, (message: unknown) => void>();

  child.stderr?.setEncoding('utf8');
  let stderrPartial = '';
  child.stderr?.on('data', (text: string) => {
    const lines = (stderrPartial + text).split('\n');
    stderrPartial = lines.pop() ?? '';
    stderr.push(...lines);
    if (stderr.length > stderrLinesMax) stderr.splice(0, stderr.length - stderrLinesMax);
  });
  child.stdout?.setEncoding('utf8');
  let stdoutPartial = '';
  child.stdout?.on('data', (text: string) => {
    const lines = (stdoutPartial + text).split('\n');
    stdoutPartial = lines.pop() ?? '';
    for (const line of lines) {
      if (stdoutLines.length < 100) stdoutLines.push(line);
      for (const waiter of lineWaiters) waiter(line);
    }
  });
  child.on('message', (message: { rid?: number; type?: string }) => {
    if (typeof message.rid === 'number') {
      const waiter = pending.get(message.rid);
      pending.delete(message.rid);
      waiter?.resolve(message);
    } else if (typeof message.type === 'string') {
      typeWaiters.get(message.type)?.(message);
    }
  });
  child.on('exit', (code, signal) => {
    exited = true;
    live.delete(child);
    const why = new BenchError(
      `${name} exited (${signal ?? `code ${code}`})${stderr.length > 0 ? `:\n  ${stderr.join('\n  ')}` : ''}`,
    );
    for (const waiter of pending.values()) waiter.reject(why);
    pending.clear();
    for (const waiter of exitWaiters) waiter();
  });
  const died = (): Promise<never> =>
    new Promise((_, reject) =>
      exitWaiters.add(() =>
        reject(
          new BenchError(`${name} exited${stderr.length > 0 ? `:\n  ${stderr.slice(-8).join('\n  ')}` : ''}`),
        ),
      ),
    );

  const withTimeout = <T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BenchError(`${name}: ${what} took over ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([promise, timeout, died()]).finally(() => clearTimeout(timer));
  };

  return {
    name,
    pid: child.pid ?? -1,
    get exited() {
      return exited;
    },
    stderrTail: () => stderr.join('\n'),
    request<T>(message: { type: string; [field: string]: unknown }, timeoutMs = 120_000): Promise<T> {
      if (exited) return Promise.reject(new BenchError(`${name} is not running`));
      const rid = nextRid++;
      const reply = new Promise<T>((resolve, reject) => {
        pending.set(rid, { resolve: resolve as (value: unknown) => void, reject });
      });
      child.send({ ...message, rid });
      return withTimeout(reply, timeoutMs, `${message.type}`);
    },
    waitFor<T>(type: string, timeoutMs: number): Promise<T> {
      const got = new Promise<T>((resolve) => typeWaiters.set(type, resolve as (message: unknown) => void));
      return withTimeout(got, timeoutMs, `waiting for ${type}`);
    },
    waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
      const seen = stdoutLines.map((line) => line.match(pattern)).find((m) => m !== null);
      if (seen !== undefined && seen !== null) return Promise.resolve(seen);
      let waiter: ((line: string) => void) | undefined;
      const got = new Promise<RegExpMatchArray>((resolve) => {
        waiter = (line: string): void => {
          const match = line.match(pattern);
          if (match !== null) resolve(match);
        };
        lineWaiters.add(waiter);
      });
      return withTimeout(got, timeoutMs, `waiting for ${pattern}`).finally(() => {
        if (waiter !== undefined) lineWaiters.delete(waiter);
      });
    },
    signal(signal: NodeJS.Signals): void {
      if (!exited) child.kill(signal);
    },
    stop(graceMs = 5_000): Promise<void> {
      if (exited) return Promise.resolve();
      return new Promise((resolve) => {
        const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        exitWaiters.add(() => {
          clearTimeout(killer);
          resolve();
        });
        if (child.connected) child.disconnect();
        child.kill('SIGTERM');
      });
    },
  };
}

/** Stop every child still running (SIGTERM, then SIGKILL after the grace period). */
export async function stopAll(children: Iterable<Child>, graceMs = 5_000): Promise<void> {
  await Promise.all([...children].map((child) => child.stop(graceMs)));
}

/** SIGKILL every process started here that is still running (on Ctrl-C: no time to be graceful). */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** Every process started here and still alive: for the final orphan check. */
export function liveChildren(): number {
  return live.size;
}
