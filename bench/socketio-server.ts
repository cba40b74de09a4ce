/**
 * What most Node users would pick: Socket.IO 4 with its Redis adapter (so a broadcast goes through
 * Redis, as it must once there is more than one server). WebSocket transport only; a client emits
 * `subscribe` with a topic and joins that room; `POST /v1/publish` emits `event` to the room with
 * the same body Stadium sends. Without a Redis URL (argv[2]) it uses the in-memory adapter.
 * A child process of the benchmark: reports its port over IPC, exits with it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import type { ServerReady } from './protocol.ts';

const redisUrl = process.argv[2];
const channelKey = process.argv[3] ?? 'stadium-bench-socket.io';
let nextId = 1;

const http = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/publish') {
    res.writeHead(404, { 'Content-Length': 0 }).end();
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (chunk: Buffer) => parts.push(chunk));
  req.on('end', () => {
    const { topic, payload } = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
      topic: string;
      payload: string;
    };
    const id = `sio-${nextId++}`;
    io.to(topic).emit('event', { id, topic, payload, publishedAtMs: Date.now(), origin: 'local' });
    const body = `{"id":"${id}"}`;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length }).end(body);
  });
});
http.keepAliveTimeout = 60_000;

const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
const redis: Redis[] = [];
if (redisUrl !== undefined && redisUrl !== '') {
  const pub = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
  const sub = pub.duplicate();
  redis.push(pub, sub);
  io.adapter(createAdapter(pub, sub, { key: channelKey }));
}

io.on('connection', (socket) => {
  socket.on('subscribe', (topic: unknown, ack: unknown) => {
    if (typeof topic === 'string') void socket.join(topic);
    if (typeof ack === 'function') (ack as () => void)();
  });
});

http.listen(0, '127.0.0.1', () => {
  const ready: ServerReady = { type: 'ready', port: (http.address() as AddressInfo).port };
  process.send?.(ready);
});

function stop(): void {
  void io.close();
  for (const client of redis) client.disconnect();
  process.exit(0);
}
process.on('disconnect', stop);
process.on('SIGTERM', stop);
