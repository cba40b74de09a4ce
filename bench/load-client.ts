/**
 * A load-client process: opens up to ~19,000 subscribed connections to one server (SSE and
 * WebSocket over raw `net` sockets, or Socket.IO with its own client), counts the events they receive and records
 * publish-to-client latency from the stamp in each payload. Driven by the parent over IPC
 * (bench/protocol.ts); exits when the parent goes away, so it never outlives a run.
 *
 * Latency is read against `performance.timeOrigin + performance.now()`, the clock the publisher
 * stamps with: every process on the machine shares it. One reading per socket read, not per event,
 * because every event in one read arrived at the same moment.
 */
import { connect } from 'node:net';
import type { Socket as NetSocket } from 'node:net';
import { io } from 'socket.io-client';
import type { Socket as IoSocket } from 'socket.io-client';
import { createHistogram, record, toSparse } from './histogram.ts';
import type { Histogram } from './histogram.ts';
import { exitSoon, serveRequests } from './protocol.ts';
import type { ClientReport, ClientRequest, OpenReply, Transport } from './protocol.ts';
import { ChunkedDecoder, parseResponseHead, SseParser, stampOf } from './sse-parser.ts';
import { clientFrame, FrameReader, opcodes, stampInBytes, upgradeRequest } from './ws-reader.ts';

const now = (): number => performance.timeOrigin + performance.now();

interface Handle {
  close(): void;
}

let histogram: Histogram = createHistogram();
let events = 0;
/** Events since the process started: never reset, so the parent can wait for a backlog to land. */
let total = 0;
let unstamped = 0;
let open = 0;
let lost = 0;
let resetAtMs = now();
const handles = new Set<Handle>();

function onStamp(stampMs: number, arrivalMs: number): void {
  events++;
  total++;
  if (Number.isNaN(stampMs)) unstamped++;
  else record(histogram, (arrivalMs - stampMs) * 1000);
}

interface Attempt {
  ready(): void;
  fail(error: string): void;
  /** The connection closed after it was ready. */
  closed(): void;
}

function openSse(url: URL, topic: string, attempt: Attempt): Handle {
  const socket: NetSocket = connect({ host: url.hostname, port: Number(url.port) });
  socket.setNoDelay(true);
  socket.setEncoding('latin1');
  let head = '';
  let ready = false;
  let chunked = false;
  const decoder = new ChunkedDecoder();
  let arrivalMs = 0;
  const parser = new SseParser((event) => {
    if (event.event === 'message') onStamp(stampOf(event.data), arrivalMs);
  });
  socket.on('connect', () => {
    socket.write(
      `GET /v1/stream?topic=${encodeURIComponent(topic)} HTTP/1.1\r\nHost: ${url.host}\r\n` +
        'Accept: text/event-stream\r\n\r\n',
    );
  });
  socket.on('data', (input: string) => {
    arrivalMs = now();
    let text = input;
    if (!ready) {
      head += text;
      const parsed = parseResponseHead(head);
      if (parsed === null) return;
      if (parsed.status !== 200) {
        attempt.fail(`SSE: HTTP ${parsed.status} ${head.slice(parsed.length, parsed.length + 200)}`);
        socket.destroy();
        return;
      }
      chunked = parsed.headers['transfer-encoding'] === 'chunked';
      text = head.slice(parsed.length);
      head = '';
      ready = true;
      attempt.ready();
    }
    try {
      parser.push(chunked ? decoder.push(text) : text);
    } catch (error) {
      attempt.fail(`SSE: ${String(error)}`);
      socket.destroy();
    }
  });
  socket.on('error', (error) => {
    if (!ready) attempt.fail(`SSE: ${error.message}`);
  });
  socket.on('close', () => {
    if (ready) attempt.closed();
    else attempt.fail('SSE: closed before the response');
  });
  return { close: () => socket.destroy() };
}

const eventPrefix = Buffer.from('{"type":"event"', 'latin1');
const subscribedPrefix = Buffer.from('{"type":"subscribed"', 'latin1');

function startsWith(data: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return (
    end - start >= prefix.length && data.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0
  );
}

function openWs(url: URL, topic: string, attempt: Attempt): Handle {
  const socket: NetSocket = connect({ host: url.hostname, port: Number(url.port) });
  socket.setNoDelay(true);
  let upgraded = false;
  let ready = false;
  let head = '';
  let arrivalMs = 0;
  const fail = (error: string): void => {
    attempt.fail(`WebSocket: ${error}`);
    socket.destroy();
  };
  const reader = new FrameReader((opcode, data, start, end) => {
    if (opcode === opcodes.text && startsWith(data, start, end, eventPrefix)) {
      onStamp(stampInBytes(data, start, end), arrivalMs);
    } else if (opcode === opcodes.ping) {
      socket.write(clientFrame(opcodes.pong, data.subarray(start, end)));
    } else if (opcode === opcodes.close) {
      socket.end();
    } else if (!ready && opcode === opcodes.text && startsWith(data, start, end, subscribedPrefix)) {
      ready = true;
      attempt.ready();
    } else if (!ready) {
      fail(data.toString('latin1', start, Math.min(end, start + 200)));
    }
  });
  socket.on('connect', () => socket.write(upgradeRequest(url.host, '/v1/ws')));
  socket.on('data', (chunk: Buffer) => {
    arrivalMs = now();
    let rest = chunk;
    if (!upgraded) {
      head += chunk.toString('latin1');
      const parsed = parseResponseHead(head);
      if (parsed === null) return;
      if (parsed.status !== 101)
        return fail(`HTTP ${parsed.status} ${head.slice(parsed.length, parsed.length + 200)}`);
      upgraded = true;
      rest = Buffer.from(head.slice(parsed.length), 'latin1');
      head = '';
      socket.write(
        clientFrame(opcodes.text, Buffer.from(JSON.stringify({ type: 'subscribe', topics: [topic] }))),
      );
    }
    try {
      if (rest.length > 0) reader.push(rest);
    } catch (error) {
      fail(String(error));
    }
  });
  socket.on('error', (error) => {
    if (!ready) attempt.fail(`WebSocket: ${error.message}`);
  });
  socket.on('close', () => {
    if (ready) attempt.closed();
    else attempt.fail('WebSocket: closed before subscribing');
  });
  return { close: () => socket.destroy() };
}

function openSocketIo(url: URL, topic: string, attempt: Attempt, timeoutMs: number): Handle {
  const socket: IoSocket = io(url.origin, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  let ready = false;
  socket.on('connect', () => {
    socket.emit('subscribe', topic, () => {
      ready = true;
      attempt.ready();
    });
  });
  socket.on('event', (body: { payload?: unknown }) => {
    onStamp(typeof body.payload === 'string' ? stampOf(body.payload) : NaN, now());
  });
  socket.on('connect_error', (error: Error) => attempt.fail(`Socket.IO: ${error.message}`));
  socket.on('disconnect', () => {
    if (ready) attempt.closed();
  });
  return { close: () => socket.disconnect() };
}

async function openMany(request: Extract<ClientRequest, { type: 'open' }>): Promise<OpenReply> {
  const started = now();
  const url = new URL(request.url);
  let attempted = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | null = null;
  await new Promise<void>((resolve) => {
    if (request.count === 0) return resolve();
    let settled = 0;
    const next = (): void => {
      if (attempted >= request.count) return;
      attempted++;
      let state: 'connecting' | 'ready' | 'done' = 'connecting';
      const settle = (): void => {
        clearTimeout(timer);
        settled++;
        if (settled === request.count) resolve();
        else next();
      };
      const attempt: Attempt = {
        ready: () => {
          if (state !== 'connecting') return;
          state = 'ready';
          opened++;
          open++;
          settle();
        },
        fail: (error) => {
          if (state !== 'connecting') return;
          state = 'done';
          failed++;
          firstError ??= error;
          handles.delete(handle);
          handle.close();
          settle();
        },
        closed: () => {
          if (state !== 'ready') return;
          state = 'done';
          open--;
          lost++;
          handles.delete(handle);
        },
      };
      const timer = setTimeout(
        () => attempt.fail(`no subscription within ${request.timeoutMs} ms`),
        request.timeoutMs,
      );
      const handle = openOne(request.transport, url, request.topic, attempt, request.timeoutMs);
      handles.add(handle);
    };
    for (let i = 0; i < Math.min(request.concurrency, request.count); i++) next();
  });
  return { rid: request.rid, open: opened, failed, firstError, ms: Math.round(now() - started) };
}

function openOne(transport: Transport, url: URL, topic: string, attempt: Attempt, timeoutMs: number): Handle {
  switch (transport) {
    case 'sse':
      return openSse(url, topic, attempt);
    case 'ws':
      return openWs(url, topic, attempt);
    case 'socketio':
      return openSocketIo(url, topic, attempt, timeoutMs);
  }
}

function report(rid: number): ClientReport {
  return {
    rid,
    open,
    lost,
    events,
    total,
    histogram: toSparse(histogram),
    unstamped,
    elapsedMs: Math.round(now() - resetAtMs),
  };
}

serveRequests<ClientRequest>({
  open: (request) => openMany(request),
  reset: () => {
    histogram = createHistogram();
    events = 0;
    unstamped = 0;
    resetAtMs = now();
    return {};
  },
  report: (request) => report(request.rid),
  close: () => {
    for (const handle of handles) handle.close();
    handles.clear();
    exitSoon();
    return {};
  },
});
