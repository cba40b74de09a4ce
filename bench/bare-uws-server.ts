/**
 * The ceiling for a Node server: bare uWebSockets.js pub/sub with the same endpoints and the same
 * frames as Stadium (`GET /v1/stream?topic=T` SSE, `/v1/ws` with `{"type":"subscribe"}`,
 * `POST /v1/publish`), and nothing else: no core, no leases, no dedupe, no slow-client policy, no
 * metrics. WebSocket fan-out is uWebSockets.js's own `app.publish`; SSE fan-out loops over the
 * topic's responses. A child process of the benchmark: reports its port over IPC, exits with it.
 */
import { App, us_listen_socket_close, us_socket_local_port } from 'uWebSockets.js';
import type { HttpResponse, us_listen_socket } from 'uWebSockets.js';
import type { ServerReady } from './protocol.ts';

const app = App();
const sseByTopic = new Map<string, Set<HttpResponse>>();
let nextId = 1;
const origin = 'local';

app.get('/v1/stream', (res, req) => {
  const topic = new URLSearchParams(req.getQuery()).get('topic') ?? '';
  let set = sseByTopic.get(topic);
  if (set === undefined) sseByTopic.set(topic, (set = new Set()));
  const streams = set;
  streams.add(res);
  res.onAborted(() => streams.delete(res));
  res.cork(() => {
    res
      .writeStatus('200 OK')
      .writeHeader('Content-Type', 'text/event-stream; charset=utf-8')
      .writeHeader('Cache-Control', 'no-cache, no-transform');
    res.write(': connected\n\n');
  });
});

app.ws<{ topics: string[] }>('/v1/ws', {
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 256 * 1024,
  closeOnBackpressureLimit: false,
  idleTimeout: 120,
  sendPingsAutomatically: true,
  message: (ws, data) => {
    const message = JSON.parse(Buffer.from(data).toString('utf8')) as { type?: string; topics?: string[] };
    if (message.type !== 'subscribe' || !Array.isArray(message.topics)) return;
    for (const topic of message.topics) {
      ws.subscribe(topic);
      ws.send(JSON.stringify({ type: 'subscribed', topic }));
    }
  },
});

app.post('/v1/publish', (res) => {
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const parts: Buffer[] = [];
  res.onData((chunk, isLast) => {
    parts.push(Buffer.from(chunk.slice(0)));
    if (!isLast) return;
    const { topic, payload } = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
      topic: string;
      payload: string;
    };
    const id = `bare-${nextId++}`;
    const body = JSON.stringify({ id, topic, payload, publishedAtMs: Date.now(), origin });
    app.publish(topic, `{"type":"event",${body.slice(1)}`, false);
    const streams = sseByTopic.get(topic);
    if (streams !== undefined) {
      const frame = `id: ${id}\nevent: message\ndata: ${body}\n\n`;
      for (const stream of streams) stream.cork(() => stream.write(frame));
    }
    if (!aborted) res.cork(() => res.writeHeader('Content-Type', 'application/json').end(`{"id":"${id}"}`));
  });
});

let listenSocket: us_listen_socket | null = null;
app.listen('127.0.0.1', 0, (socket) => {
  if (socket === false) {
    process.stderr.write('bare uWebSockets.js: cannot listen on 127.0.0.1\n');
    process.exit(1);
  }
  listenSocket = socket;
  const ready: ServerReady = { type: 'ready', port: us_socket_local_port(socket) };
  process.send?.(ready);
});

function stop(): void {
  if (listenSocket !== null) us_listen_socket_close(listenSocket);
  app.close();
  process.exit(0);
}
process.on('disconnect', stop);
process.on('SIGTERM', stop);
