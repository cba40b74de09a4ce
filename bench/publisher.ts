/**
 * A publisher process: `POST /v1/publish` over raw keep-alive sockets (node:http costs several
 * times more per request, and at 50,000 publishes/s the client must not be the bottleneck), either
 * at a steady rate or as fast as the server answers. Each payload carries its send time
 * (`bench:<ms>:<seq>`) for the load clients' latency. Driven over IPC; exits with its parent.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { createHistogram, record, toSparse } from './histogram.ts';
import type { Histogram } from './histogram.ts';
import { exitSoon, serveRequests } from './protocol.ts';
import type { PublisherReport, PublisherRequest } from './protocol.ts';
import { ResponseReader, stampPayload } from './sse-parser.ts';

const now = (): number => performance.timeOrigin + performance.now();
/** How often the rate ticker runs; each tick sends what the rate says is due. */
const tickMs = 2;

let sent = 0;
let ok = 0;
/** Publishes answered ok since the start, never reset. */
let totalOk = 0;
let failed = 0;
let behind = 0;
let firstError: string | null = null;
let histogram: Histogram = createHistogram();
let resetAtMs = now();
let seq = 0;
let stopped = false;
/** Requests sent and not answered yet. */
let inFlight = 0;
/** How long `stop` waits for the requests in flight to be answered. */
const stopWaitMs = 10_000;
const sockets: Socket[] = [];
let ticker: NodeJS.Timeout | null = null;

interface Lane {
  socket: Socket;
  busy: boolean;
  sentAtMs: number;
}

function start(request: Extract<PublisherRequest, { type: 'start' }>): Promise<void> {
  const url = new URL(request.url);
  const lanes: Lane[] = [];
  const idle: Lane[] = [];
  const requestHead = `POST /v1/publish HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n`;
  const topic = JSON.stringify(request.topic);
  const batch = request.batch ?? 1;
  const event = (sentAtMs: number): string =>
    `{"topic":${topic},"payload":"${stampPayload(sentAtMs, seq++)}"}`;
  const fire = (lane: Lane): void => {
    const sentAtMs = now();
    let body = event(sentAtMs);
    if (batch > 1) {
      for (let i = 1; i < batch; i++) body += `,${event(sentAtMs)}`;
      body = `[${body}]`;
    }
    lane.busy = true;
    inFlight++;
    lane.sentAtMs = sentAtMs;
    sent += batch;
    lane.socket.write(`${requestHead}Content-Length: ${body.length}\r\n\r\n${body}`);
  };
  const free = (lane: Lane): void => {
    lane.busy = false;
    if (stopped) return;
    if (request.ratePerSecond === 0) fire(lane);
    else idle.push(lane);
  };
  return new Promise((resolve, reject) => {
    let connected = 0;
    for (let i = 0; i < request.connections; i++) {
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      socket.setNoDelay(true);
      socket.setEncoding('latin1');
      sockets.push(socket);
      const lane: Lane = { socket, busy: false, sentAtMs: 0 };
      lanes.push(lane);
      const reader = new ResponseReader((status, body) => {
        record(histogram, (now() - lane.sentAtMs) * 1000);
        inFlight--;
        // A batch answers 200 with one result per event: an id, or an error.
        const published = status !== 200 ? 0 : batch === 1 ? 1 : countIds(body);
        ok += published;
        totalOk += published;
        if (published < batch) {
          failed += batch - published;
          firstError ??= `HTTP ${status}: ${body.slice(0, 200)}`;
        }
        free(lane);
      });
      socket.on('data', (text: string) => {
        try {
          reader.push(text);
        } catch (error) {
          failed++;
          firstError ??= String(error);
          socket.destroy();
        }
      });
      socket.on('error', (error) => {
        firstError ??= `publish connection: ${error.message}`;
        if (connected < request.connections) reject(error);
      });
      socket.on('close', () => {
        if (lane.busy) {
          failed += batch;
          inFlight--;
        }
        lane.busy = true; // never used again
        const at = idle.indexOf(lane);
        if (at >= 0) idle.splice(at, 1);
      });
      socket.on('connect', () => {
        connected++;
        if (connected === request.connections) begin();
      });
    }
    const begin = (): void => {
      resolve();
      if (request.ratePerSecond === 0) {
        for (const lane of lanes) fire(lane);
        return;
      }
      idle.push(...lanes);
      const startedAtMs = now();
      let due = 0;
      ticker = setInterval(() => {
        const target = Math.floor(((now() - startedAtMs) / 1000) * request.ratePerSecond);
        for (; due < target; due++) {
          const lane = idle.pop();
          if (lane === undefined) behind++;
          else fire(lane);
        }
      }, tickMs);
    };
  });
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!done() && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

function countIds(body: string): number {
  let count = 0;
  for (let at = body.indexOf('{"id":'); at >= 0; at = body.indexOf('{"id":', at + 6)) count++;
  return count;
}

function report(rid: number): PublisherReport {
  return {
    rid,
    sent,
    ok,
    totalOk,
    failed,
    behind,
    firstError,
    histogram: toSparse(histogram),
    elapsedMs: Math.round(now() - resetAtMs),
  };
}

serveRequests<PublisherRequest>({
  start: async (request) => {
    await start(request);
    return {};
  },
  reset: () => {
    sent = ok = failed = behind = 0;
    firstError = null;
    histogram = createHistogram();
    resetAtMs = now();
    return {};
  },
  report: (request) => report(request.rid),
  stop: async (request) => {
    // Send nothing more, and let what is in flight be answered: the server publishes it anyway,
    // and the parent waits for exactly what was published to reach the clients.
    stopped = true;
    if (ticker !== null) clearInterval(ticker);
    await waitUntil(() => inFlight <= 0, stopWaitMs);
    for (const socket of sockets) socket.destroy();
    exitSoon();
    return report(request.rid);
  },
});
