/**
 * Real clients for tests that drive servers in this process: start a server on a free port, publish,
 * read an SSE stream frame by frame, talk WebSocket, read a metric. Every client and server is
 * closed by `closeTestServers`, which each test file calls in `afterEach`.
 */
import WebSocket from 'ws';
import { serveConfigFrom } from './config.ts';
import type { ServeFlags } from './config.ts';
import { startServer } from './server.ts';
import type { RunningServer, ServerHooks } from './server.ts';

/** Servers started by `start`, closed by `closeTestServers`. */
export const servers: RunningServer[] = [];
/** Clients to close after each test. */
export const cleanups: (() => void)[] = [];

/** Close every client, then every server: call in `afterEach`. */
export async function closeTestServers(): Promise<void> {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await Promise.all(servers.splice(0).map((server) => server.close()));
}

export async function start(flags: ServeFlags = {}, hooks: ServerHooks = {}): Promise<RunningServer> {
  const parsed = serveConfigFrom({ port: '0', logLevel: 'silent', shutdownGraceMs: '500', ...flags }, {});
  if (!parsed.ok) throw new Error(parsed.error);
  const server = await startServer(parsed.config, undefined, hooks);
  servers.push(server);
  return server;
}

/** A dispatcher and a frontend of one datacenter, as two servers that share an internal token. */
export async function startPair(
  dc = 'dc-a',
): Promise<{ dispatcher: RunningServer; frontend: RunningServer; internalToken: string }> {
  const internalToken = 'between-nodes-0123456789';
  const dispatcher = await start({ role: 'dispatcher', dc, internalToken });
  const frontend = await start({ role: 'frontend', dc, dispatchers: dispatcher.url, internalToken });
  return { dispatcher, frontend, internalToken };
}

export async function publish(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${base}/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    json: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

export interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comment?: string;
}

export interface TestStream {
  status: number;
  /** The error body when the stream was refused. */
  json: Record<string, unknown> | null;
  frames: Frame[];
  events(): Record<string, unknown>[];
  notices(): Record<string, unknown>[];
  ended(): boolean;
  close(): void;
}

/** A raw SSE reader over fetch: every frame, including comments and retry hints. */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<TestStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const frames: Frame[] = [];
  let ended = false;
  cleanups.push(() => controller.abort());
  if (response.ok && response.body !== null) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buffered = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += value;
          let end = buffered.indexOf('\n\n');
          while (end >= 0) {
            const frame: Frame = {};
            for (const line of buffered.slice(0, end).split('\n')) {
              const colon = line.indexOf(':');
              const field = line.slice(0, colon);
              const text = line.slice(colon + 1).replace(/^ /, '');
              if (field === '') frame.comment = text;
              else frame[field as 'id' | 'event' | 'data' | 'retry'] = text;
            }
            frames.push(frame);
            buffered = buffered.slice(end + 2);
            end = buffered.indexOf('\n\n');
          }
        }
      } catch {
        // Aborted by the test.
      }
      ended = true;
    })();
  }
  return {
    status: response.status,
    json: response.ok ? null : ((await response.json()) as Record<string, unknown>),
    frames,
    events: () =>
      frames.filter((f) => f.event === 'message').map((f) => JSON.parse(f.data!) as Record<string, unknown>),
    notices: () =>
      frames.filter((f) => f.event === 'notice').map((f) => JSON.parse(f.data!) as Record<string, unknown>),
    ended: () => ended,
    close: () => controller.abort(),
  };
}

export interface WsClient {
  socket: WebSocket;
  messages: Record<string, unknown>[];
  closed: { code: number } | null;
  send(value: unknown): void;
}

export async function openWs(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
  const socket = new WebSocket(url, { headers });
  const client: WsClient = {
    socket,
    messages: [],
    closed: null,
    send: (value) => socket.send(typeof value === 'string' ? value : JSON.stringify(value)),
  };
  socket.on('message', (data: Buffer) =>
    client.messages.push(JSON.parse(data.toString()) as Record<string, unknown>),
  );
  socket.on('close', (code) => (client.closed = { code }));
  cleanups.push(() => socket.terminate());
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  return client;
}

export const wsUrl = (server: RunningServer, query = ''): string =>
  `${server.url.replace('http', 'ws')}/v1/ws${query}`;

export async function metric(
  server: RunningServer,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
