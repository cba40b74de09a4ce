// Goal: the fault proxy applies the simulator's network faults to real HTTP node-to-node messages —
// which link each fault blocks, delays or thins, with which reason and fault — and otherwise forwards
// a message unchanged. Method: real HTTP on 127.0.0.1, a recording stub server behind each proxy
// listener standing in for a node, and messages sent as prod/peer-transport.ts sends them.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { messageNumberOf, startFaultProxy } from './index.ts';
import type { FaultProxy, FaultProxyOptions, ProxyDrop, ProxyForward, ProxyUpstreamError } from './index.ts';

const nodes = [
  { node: 'dc-a/frontend-1', dc: 'dc-a' },
  { node: 'dc-a/dispatcher-1', dc: 'dc-a' },
  { node: 'dc-b/frontend-1', dc: 'dc-b' },
  { node: 'dc-b/dispatcher-1', dc: 'dc-b' },
] as const;
type NodeName = (typeof nodes)[number]['node'];

const token = 'Bearer test-internal-token';
/** A node's id (its public URL) in the envelopes: only `nodeOfUrl` needs to understand it. */
const urlOf = (node: string): string => `http://${node.replace('/', '.')}.test`;
const nodeOfUrl = (url: string): string | undefined => nodes.find((n) => urlOf(n.node) === url)?.node;

interface Arrival {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A stand-in node: records every request and answers as a node does (or as `respond` says). */
interface Stub {
  server: Server;
  port: number;
  arrivals: Arrival[];
  /** Upstream connections that closed (to see the proxy let go of a frozen target). */
  closedSockets: number;
  respond: (req: IncomingMessage, res: ServerResponse, body: string) => void;
}

async function startStub(): Promise<Stub> {
  const stub: Stub = {
    server: createServer(),
    port: 0,
    arrivals: [],
    closedSockets: 0,
    respond: (_req, res) => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    },
  };
  stub.server.on('connection', (socket) => socket.on('close', () => stub.closedSockets++));
  stub.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      stub.arrivals.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      stub.respond(req, res, body);
    });
  });
  await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
  const address = stub.server.address();
  if (address === null || typeof address !== 'object') throw new Error('stub has no port');
  stub.port = address.port;
  return stub;
}

interface Rig {
  proxy: FaultProxy;
  stubs: Map<string, Stub>;
  drops: ProxyDrop[];
  forwards: ProxyForward[];
  upstreamErrors: ProxyUpstreamError[];
  /** POST a node message from `from` to `to` through the proxy; resolves with status and body. */
  send: (
    from: NodeName,
    to: NodeName,
    m?: number,
    signal?: AbortSignal,
  ) => Promise<{ status: number; body: string }>;
}

const open: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

async function rig(options: Partial<Pick<FaultProxyOptions, 'seed' | 'links'>> = {}): Promise<Rig> {
  const stubs = new Map<string, Stub>();
  for (const { node } of nodes) {
    const stub = await startStub();
    stubs.set(node, stub);
    open.push({
      close: () =>
        new Promise<void>((resolve) => {
          stub.server.close(() => resolve());
          stub.server.closeAllConnections();
        }),
    });
  }
  const drops: ProxyDrop[] = [];
  const forwards: ProxyForward[] = [];
  const upstreamErrors: ProxyUpstreamError[] = [];
  const proxy = await startFaultProxy({
    targets: nodes.map(({ node, dc }) => ({
      node,
      dc,
      listenPort: 0,
      upstream: `http://127.0.0.1:${stubs.get(node)!.port}`,
    })),
    nodeOfUrl,
    seed: options.seed ?? 'fault-proxy-test',
    ...(options.links === undefined ? {} : { links: options.links }),
    onDrop: (drop) => drops.push(drop),
    onForward: (forward) => forwards.push(forward),
    onUpstreamError: (error) => upstreamErrors.push(error),
  });
  open.push(proxy);
  const send: Rig['send'] = async (from, to, m, signal) => {
    const response = await fetch(`http://127.0.0.1:${proxy.portOf(to)}/internal/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: token },
      body: JSON.stringify({
        source: urlOf(from),
        message: { type: 'subscribe', topic: 't', frontend: urlOf(from) },
        ...(m === undefined ? {} : { m }),
      }),
      ...(signal === undefined ? {} : { signal }),
    });
    return { status: response.status, body: await response.text() };
  };
  return { proxy, stubs, drops, forwards, upstreamErrors, send };
}

const arrived = (r: Rig, node: NodeName): number[] =>
  r.stubs.get(node)!.arrivals.map((a) => (JSON.parse(a.body) as { m: number }).m);

const until = async (done: () => boolean, ms = 5_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('fault proxy', () => {
  it('no fault: a message reaches its target unchanged and the target answer comes back', async () => {
    const r = await rig();
    r.stubs.get('dc-b/dispatcher-1')!.respond = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"ok":false,"error":"wrong-role"}');
    };
    const body = JSON.stringify({
      source: urlOf('dc-a/frontend-1'),
      message: { type: 'renew', topic: 'é' },
      m: 3,
    });
    const response = await fetch(`http://127.0.0.1:${r.proxy.portOf('dc-b/dispatcher-1')}/internal/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: token },
      body,
    });
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('{"ok":false,"error":"wrong-role"}');
    const [arrival] = r.stubs.get('dc-b/dispatcher-1')!.arrivals;
    expect(arrival).toMatchObject({ method: 'POST', url: '/internal/message', body });
    expect(arrival!.headers).toMatchObject({ authorization: token, 'content-type': 'application/json' });
    expect(r.forwards).toEqual([
      expect.objectContaining({
        m: 3,
        from: 'dc-a/frontend-1',
        to: 'dc-b/dispatcher-1',
        delayUs: 0,
        status: 404,
      }),
    ]);
    expect(r.drops).toEqual([]);
  });

  it('other paths, and messages from an unknown source, pass through with no rule applied', async () => {
    const r = await rig();
    r.proxy.isolate(1, 'dc-a/frontend-1');
    r.stubs.get('dc-a/frontend-1')!.respond = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`metrics for ${req.url}`);
    };
    const metrics = await fetch(`http://127.0.0.1:${r.proxy.portOf('dc-a/frontend-1')}/metrics?x=1`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toBe('metrics for /metrics?x=1');
    const stranger = await fetch(`http://127.0.0.1:${r.proxy.portOf('dc-a/frontend-1')}/internal/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'http://stranger.test', message: {} }),
    });
    expect(stranger.status).toBe(200);
    expect(r.stubs.get('dc-a/frontend-1')!.arrivals).toHaveLength(2);
    expect(r.drops).toEqual([]);
    expect(r.forwards).toEqual([]);
  });

  it('partition dc-a | dc-b (symmetric): both directions dropped as partition f, each datacenter keeps talking', async () => {
    const r = await rig();
    r.proxy.partition(7, ['dc-a', 'dc-b'], false);
    expect(await r.send('dc-a/frontend-1', 'dc-b/dispatcher-1', 1)).toEqual({
      status: 202,
      body: '{"ok":true}',
    });
    expect(await r.send('dc-b/frontend-1', 'dc-a/dispatcher-1', 2)).toEqual({
      status: 202,
      body: '{"ok":true}',
    });
    await r.send('dc-a/frontend-1', 'dc-a/dispatcher-1', 3);
    await r.send('dc-b/frontend-1', 'dc-b/dispatcher-1', 4);
    expect(r.drops.map(({ m, from, to, why, f }) => ({ m, from, to, why, f }))).toEqual([
      { m: 1, from: 'dc-a/frontend-1', to: 'dc-b/dispatcher-1', why: 'partition', f: 7 },
      { m: 2, from: 'dc-b/frontend-1', to: 'dc-a/dispatcher-1', why: 'partition', f: 7 },
    ]);
    expect(arrived(r, 'dc-b/dispatcher-1')).toEqual([4]);
    expect(arrived(r, 'dc-a/dispatcher-1')).toEqual([3]);
    expect(r.drops.every((d) => Number.isInteger(d.tUs) && d.tUs > 0)).toBe(true);

    r.proxy.repair(7);
    await r.send('dc-a/frontend-1', 'dc-b/dispatcher-1', 5);
    await r.send('dc-b/frontend-1', 'dc-a/dispatcher-1', 6);
    expect(arrived(r, 'dc-b/dispatcher-1')).toEqual([4, 5]);
    expect(arrived(r, 'dc-a/dispatcher-1')).toEqual([3, 6]);
    expect(r.drops).toHaveLength(2);
  });

  it('partition dc-a -> dc-b (one-way): only messages from dc-a to dc-b are dropped', async () => {
    const r = await rig();
    r.proxy.partition(2, ['dc-a', 'dc-b'], true);
    await r.send('dc-a/frontend-1', 'dc-b/dispatcher-1', 1);
    await r.send('dc-b/dispatcher-1', 'dc-a/frontend-1', 2);
    expect(r.drops.map(({ m, why, f }) => ({ m, why, f }))).toEqual([{ m: 1, why: 'partition', f: 2 }]);
    expect(arrived(r, 'dc-b/dispatcher-1')).toEqual([]);
    expect(arrived(r, 'dc-a/frontend-1')).toEqual([2]);
  });

  it('isolate dc-a/frontend-1: messages to and from it are dropped as isolated, until released', async () => {
    const r = await rig();
    r.proxy.isolate(4, 'dc-a/frontend-1');
    await r.send('dc-a/frontend-1', 'dc-a/dispatcher-1', 1);
    await r.send('dc-a/dispatcher-1', 'dc-a/frontend-1', 2);
    await r.send('dc-b/dispatcher-1', 'dc-a/frontend-1', 3);
    await r.send('dc-b/frontend-1', 'dc-a/dispatcher-1', 4);
    expect(r.drops.map(({ m, why, f }) => ({ m, why, f }))).toEqual([
      { m: 1, why: 'isolated', f: 4 },
      { m: 2, why: 'isolated', f: 4 },
      { m: 3, why: 'isolated', f: 4 },
    ]);
    expect(arrived(r, 'dc-a/dispatcher-1')).toEqual([4]);

    r.proxy.release(4);
    await r.send('dc-a/frontend-1', 'dc-a/dispatcher-1', 5);
    await r.send('dc-b/dispatcher-1', 'dc-a/frontend-1', 6);
    expect(arrived(r, 'dc-a/dispatcher-1')).toEqual([4, 5]);
    expect(arrived(r, 'dc-a/frontend-1')).toEqual([6]);
    expect(r.drops).toHaveLength(3);
  });

  it('isolation and partition together: the isolation is named, as in the simulator', async () => {
    const r = await rig();
    r.proxy.partition(1, ['dc-a', 'dc-b'], false);
    r.proxy.isolate(2, 'dc-b/dispatcher-1');
    await r.send('dc-a/frontend-1', 'dc-b/dispatcher-1', 1);
    await r.send('dc-a/frontend-1', 'dc-b/frontend-1', 2);
    expect(r.drops.map(({ m, why, f }) => ({ m, why, f }))).toEqual([
      { m: 1, why: 'isolated', f: 2 },
      { m: 2, why: 'partition', f: 1 },
    ]);
  });

  it('loss burst of 30%: about that share of the messages touching its datacenter are lost, the same ones for a seed', async () => {
    const sendMany = async (seed: string): Promise<{ dropped: number[]; arrivedA: number }> => {
      const r = await rig({ seed });
      r.proxy.lossBurst(9, 300_000, 'dc-b');
      for (let m = 1; m <= 300; m++) await r.send('dc-a/frontend-1', 'dc-b/dispatcher-1', m);
      // Both ends in dc-a: the burst over dc-b does not touch the link.
      for (let m = 301; m <= 320; m++) await r.send('dc-a/frontend-1', 'dc-a/dispatcher-1', m);
      expect(r.drops.every((d) => d.why === 'loss' && d.f === 9)).toBe(true);
      r.proxy.endBurst(9);
      for (let m = 321; m <= 340; m++) await r.send('dc-a/frontend-1', 'dc-b/dispatcher-1', m);
      expect(r.drops.every((d) => d.m! <= 300)).toBe(true);
      // Every message that was not dropped arrived.
      expect(arrived(r, 'dc-b/dispatcher-1').length + r.drops.length).toBe(320);
      return { dropped: r.drops.map((d) => d.m!), arrivedA: arrived(r, 'dc-a/dispatcher-1').length };
    };
    const first = await sendMany('loss-seed');
    // Mean 90, standard deviation about 8: a band of five deviations each way.
    expect(first.dropped.length).toBeGreaterThanOrEqual(50);
    expect(first.dropped.length).toBeLessThanOrEqual(130);
    expect(first.arrivedA).toBe(20);
    const again = await sendMany('loss-seed');
    expect(again.dropped).toEqual(first.dropped);
  });

  it("the scenario's own links: cross-datacenter messages wait its latency, and a lossy class loses without a fault", async () => {
    const r = await rig({
      links: {
        intraDc: { latency: { baseUs: 200, jitterUs: 0 }, lossPerMillion: 1_000_000 },
        crossDc: { latency: { baseUs: 120_000, jitterUs: 0 }, lossPerMillion: 0 },
      },
    });
    const start = performance.now();
    await r.send('dc-a/frontend-1', 'dc-b/dispatcher-1', 1);
    expect(performance.now() - start).toBeGreaterThanOrEqual(120);
    expect(r.forwards.find((f) => f.m === 1)?.delayUs).toBe(120_000);
    // Every intra-datacenter message is lost (odds of a million per million), with no fault named.
    await r.send('dc-a/frontend-1', 'dc-a/dispatcher-1', 2);
    expect(r.drops).toEqual([expect.objectContaining({ m: 2, why: 'loss' })]);
    expect(r.drops[0]).not.toHaveProperty('f');
    expect(arrived(r, 'dc-a/dispatcher-1')).toEqual([]);
  });

  it('jitter storm over dc-b: messages touching dc-b wait at least its base, others do not; calm ends it', async () => {
    const r = await rig();
    r.proxy.jitterStorm(5, { baseUs: 150_000, jitterUs: 10_000 }, 'dc-b');
    const timed = async (from: NodeName, to: NodeName, m: number): Promise<number> => {
      const start = performance.now();
      await r.send(from, to, m);
      return performance.now() - start;
    };
    const stormy = [
      await timed('dc-a/frontend-1', 'dc-b/dispatcher-1', 1),
      await timed('dc-b/dispatcher-1', 'dc-a/frontend-1', 2),
    ];
    const calmLink = await timed('dc-a/frontend-1', 'dc-a/dispatcher-1', 3);
    for (const ms of stormy) {
      expect(ms).toBeGreaterThanOrEqual(150);
      // Base plus the tail's cap (20 means), and room for a loaded machine.
      expect(ms).toBeLessThan(150 + 200 + 2_000);
    }
    expect(calmLink).toBeLessThan(150);
    const delays = new Map(r.forwards.map((f) => [f.m, f.delayUs]));
    expect(delays.get(1)).toBeGreaterThanOrEqual(150_000);
    expect(delays.get(2)).toBeGreaterThanOrEqual(150_000);
    expect(delays.get(3)).toBe(0);

    r.proxy.calm(5);
    expect(await timed('dc-a/frontend-1', 'dc-b/dispatcher-1', 4)).toBeLessThan(150);
    expect(r.drops).toEqual([]);
  });

  it('a partition that begins while a storm holds a message drops it on arrival, as in the simulator', async () => {
    const r = await rig();
    r.proxy.jitterStorm(1, { baseUs: 300_000, jitterUs: 0 }, undefined);
    const sent = r.send('dc-a/frontend-1', 'dc-b/frontend-1', 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.proxy.partition(2, ['dc-a', 'dc-b'], true);
    expect(await sent).toEqual({ status: 202, body: '{"ok":true}' });
    expect(r.drops.map(({ m, why, f }) => ({ m, why, f }))).toEqual([{ m: 1, why: 'partition', f: 2 }]);
    expect(arrived(r, 'dc-b/frontend-1')).toEqual([]);
  });

  it('a dead target: the sender gets a failure status and the proxy reports an upstream error', async () => {
    const r = await rig();
    const stub = r.stubs.get('dc-b/frontend-1')!;
    await new Promise<void>((resolve) => {
      stub.server.close(() => resolve());
      stub.server.closeAllConnections();
    });
    const { status } = await r.send('dc-a/frontend-1', 'dc-b/frontend-1', 8);
    expect(status).toBe(502);
    expect(r.upstreamErrors).toEqual([
      expect.objectContaining({
        m: 8,
        from: 'dc-a/frontend-1',
        to: 'dc-b/frontend-1',
        maybeDelivered: false,
      }),
    ]);
    expect(r.upstreamErrors[0]!.error).toMatch(/ECONNREFUSED/);
    expect(r.drops).toEqual([]);
  });

  it('a frozen target: when the sender gives up, the proxy reports it and lets go of the upstream socket', async () => {
    const r = await rig();
    const stub = r.stubs.get('dc-b/frontend-1')!;
    stub.respond = () => {}; // never answers, as a SIGSTOPped process
    await expect(r.send('dc-a/frontend-1', 'dc-b/frontend-1', 9, AbortSignal.timeout(300))).rejects.toThrow();
    await until(() => r.upstreamErrors.length === 1 && stub.closedSockets === 1);
    expect(r.upstreamErrors[0]).toMatchObject({ m: 9, to: 'dc-b/frontend-1', maybeDelivered: true });
    expect(arrived(r, 'dc-b/frontend-1')).toEqual([9]);
  });

  it("the message number: the envelope's m, or the recorder's trace tag (a number, or an object with m)", async () => {
    expect(messageNumberOf({ source: 'x', m: 4 })).toBe(4);
    expect(messageNumberOf({ source: 'x', trace: 5 })).toBe(5);
    expect(messageNumberOf({ source: 'x', trace: { m: 6, e: 'ev' } })).toBe(6);
    expect(messageNumberOf({ source: 'x', trace: 'seven' })).toBeUndefined();
    expect(messageNumberOf({ source: 'x' })).toBeUndefined();
    const r = await rig();
    r.proxy.isolate(1, 'dc-a/frontend-1');
    await fetch(`http://127.0.0.1:${r.proxy.portOf('dc-a/dispatcher-1')}/internal/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: token },
      body: JSON.stringify({
        source: urlOf('dc-a/frontend-1'),
        message: { type: 'renew' },
        trace: { m: 12 },
      }),
    });
    expect(r.drops).toEqual([expect.objectContaining({ m: 12, why: 'isolated', f: 1 })]);
  });

  it('close() frees every port', async () => {
    const r = await rig();
    const port = r.proxy.portOf('dc-a/frontend-1');
    await r.proxy.close();
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });

  it('a port already taken: startFaultProxy rejects naming the node and port', async () => {
    const r = await rig();
    const port = r.proxy.portOf('dc-a/frontend-1');
    await expect(
      startFaultProxy({
        targets: [{ node: 'dc-a/frontend-1', dc: 'dc-a', listenPort: port, upstream: 'http://127.0.0.1:1' }],
        nodeOfUrl,
        seed: 's',
        onDrop: () => {},
      }),
    ).rejects.toThrow(`dc-a/frontend-1 cannot listen on port ${port}`);
  });
});
