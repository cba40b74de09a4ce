// Goal: tests that need Redis, redis-server or Chromium skip with a message when the service is missing, and
// fail when CI says it is mandatory. Method: probe a closed port and a missing path.
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { chromiumGate, redisClusterGate, redisGate, redisServerGate, uniquePrefix } from './test-gate.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('service gates', () => {
  it('Redis missing: down, skipped locally, mandatory under STADIUM_REQUIRE_REDIS=1', async () => {
    const port = await closedPort();
    expect(await redisGate({}, port)).toMatchObject({
      up: false,
      required: false,
      skipMessage: 'skipped: Redis not reachable at 127.0.0.1:6379',
    });
    expect(await redisGate({ STADIUM_REQUIRE_REDIS: '1' }, port)).toMatchObject({
      up: false,
      required: true,
    });
  });

  it('something that is not Redis on the port does not count as Redis', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    expect((await redisGate({}, port)).up).toBe(false);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('redis-server missing: down, skipped locally, mandatory under STADIUM_REQUIRE_REDIS=1', () => {
    expect(redisServerGate({}, '/nonexistent/redis-server')).toMatchObject({
      up: false,
      required: false,
      skipMessage: 'skipped: redis-server not available',
    });
    expect(redisServerGate({ STADIUM_REQUIRE_REDIS: '1' }, '/nonexistent/redis-server').required).toBe(true);
  });

  it('redis-cli missing: no Redis Cluster, skipped locally, mandatory under STADIUM_REQUIRE_REDIS=1', () => {
    expect(redisClusterGate({}, 'redis-server', '/nonexistent/redis-cli')).toMatchObject({
      up: false,
      required: false,
      skipMessage: 'skipped: Redis Cluster not available (redis-server/redis-cli missing)',
    });
    expect(redisClusterGate({ STADIUM_REQUIRE_REDIS: '1' }, '/nonexistent/redis-server').required).toBe(true);
  });

  it('Chromium missing: down, mandatory under STADIUM_REQUIRE_CHROMIUM=1', () => {
    expect(chromiumGate({}, '/nonexistent/chromium')).toMatchObject({ up: false, required: false });
    expect(chromiumGate({ STADIUM_REQUIRE_CHROMIUM: '1' }, '/nonexistent/chromium').required).toBe(true);
  });

  it('key prefixes are unique per call', () => {
    expect(uniquePrefix('x')).not.toBe(uniquePrefix('x'));
    expect(uniquePrefix('x')).toMatch(/^stadium-test:\d+-[0-9a-f]+:x:$/);
  });
});
