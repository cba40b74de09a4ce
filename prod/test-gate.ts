/**
 * Whether the outside services some tests need are here: Redis on 127.0.0.1:6379, a `redis-server`
 * binary (for tests that start, kill and restart a Redis of their own) and Chromium.
 * Locally a missing service skips its tests with a message; in CI (`STADIUM_REQUIRE_REDIS=1`,
 * `STADIUM_REQUIRE_CHROMIUM=1`) it fails them instead.
 */
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { redisClusterAvailable } from './redis-cluster-process.ts';
import { redisServerAvailable } from './redis-server-process.ts';

export interface ServiceGate {
  up: boolean;
  required: boolean;
  /** The skipped test's name when the service is missing and not required. */
  skipMessage: string;
  /** The failure when the service is missing but required. */
  requiredMessage: string;
}

export const redisUrl = 'redis://127.0.0.1:6379';
export const chromiumPath = '/usr/bin/chromium';

export async function redisGate(
  env: Record<string, string | undefined> = process.env,
  port = 6379,
): Promise<ServiceGate> {
  const up = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
  return {
    up,
    required: env.STADIUM_REQUIRE_REDIS === '1',
    skipMessage: 'skipped: Redis not reachable at 127.0.0.1:6379',
    requiredMessage:
      'Redis not reachable at 127.0.0.1:6379, and STADIUM_REQUIRE_REDIS=1 makes its tests mandatory',
  };
}

/** A `redis-server` binary this process can start (mandatory, like Redis, under STADIUM_REQUIRE_REDIS=1). */
export function redisServerGate(
  env: Record<string, string | undefined> = process.env,
  binary = 'redis-server',
): ServiceGate {
  return {
    up: redisServerAvailable(binary),
    required: env.STADIUM_REQUIRE_REDIS === '1',
    skipMessage: 'skipped: redis-server not available',
    requiredMessage: `${binary} not available, and STADIUM_REQUIRE_REDIS=1 makes its tests mandatory`,
  };
}

/**
 * `redis-server` and `redis-cli`, to start a private Redis Cluster (mandatory, like Redis, under
 * STADIUM_REQUIRE_REDIS=1).
 */
export function redisClusterGate(
  env: Record<string, string | undefined> = process.env,
  server = 'redis-server',
  cli = 'redis-cli',
): ServiceGate {
  return {
    up: redisClusterAvailable(server, cli),
    required: env.STADIUM_REQUIRE_REDIS === '1',
    skipMessage: 'skipped: Redis Cluster not available (redis-server/redis-cli missing)',
    requiredMessage:
      'Redis Cluster not available (redis-server/redis-cli missing), and STADIUM_REQUIRE_REDIS=1 makes its tests mandatory',
  };
}

export function chromiumGate(
  env: Record<string, string | undefined> = process.env,
  path: string = chromiumPath,
): ServiceGate {
  return {
    up: existsSync(path),
    required: env.STADIUM_REQUIRE_CHROMIUM === '1',
    skipMessage: `skipped: Chromium not found at ${chromiumPath}`,
    requiredMessage: `Chromium not found at ${chromiumPath}, and STADIUM_REQUIRE_CHROMIUM=1 makes its tests mandatory`,
  };
}

/** A key prefix no other test run shares. */
export function uniquePrefix(label: string): string {
  return `stadium-test:${process.pid}-${Math.random().toString(16).slice(2, 10)}:${label}:`;
}
