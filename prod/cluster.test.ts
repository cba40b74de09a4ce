// Goal: the cluster's naming, port picking and endpoint listing are right before any process starts.
// Method: call the pure helpers; occupy a port and see it skipped.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { dcName, describeCluster, freePorts } from './cluster.ts';

describe('cluster helpers', () => {
  it('names datacenters dc-a, dc-b, ...', () => {
    expect([0, 1, 25, 26].map(dcName)).toEqual(['dc-a', 'dc-b', 'dc-z', 'dc-27']);
  });

  it('skips ports that are in use', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    const ports = await freePorts('127.0.0.1', port, 2);
    await new Promise((resolve) => busy.close(resolve));
    expect(ports).toHaveLength(2);
    expect(ports).not.toContain(port);
    expect(ports.every((p) => p > port)).toBe(true);
  });

  it('lists publish, stream and WebSocket endpoints per datacenter', () => {
    const node = (url: string) => ({ name: 'n', dc: 'dc-a', role: 'frontend' as const, url, pid: 1 });
    const text = describeCluster([
      {
        name: 'dc-a',
        dispatchers: [node('http://127.0.0.1:7100')],
        frontends: [node('http://127.0.0.1:7101')],
      },
    ]);
    expect(text).toContain(
      'curl -X POST http://127.0.0.1:7100/v1/publish -d \'{"topic":"likes","payload":"hi"}\'',
    );
    expect(text).toContain("curl -N 'http://127.0.0.1:7101/v1/stream?topic=likes'");
    expect(text).toContain('ws://127.0.0.1:7101/v1/ws');
  });
});
