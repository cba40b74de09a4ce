// Goal: malformed HTTP requests, WebSocket messages and WebSocket frames never crash the server,
// every answer of a Stadium route to them is JSON (a 4xx naming the problem), and the server still
// delivers afterwards.
// Method: a server in this process (role all, memory store) gets cases drawn by seeded generators
// (prod/test-fuzz-*.ts; prod/test-fuzz-http.ts lists what uWebSockets.js' parser answers by itself),
// each on a connection of its own, many at once. A request only the parser sees is watched for a moment,
// then hung up on. STADIUM_FUZZ_SEED and STADIUM_FUZZ_SCALE run other or more cases.
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from './server.ts';
import { httpCase } from './test-fuzz-http.ts';
import type { HttpCase } from './test-fuzz-http.ts';
import { FuzzRng } from './test-fuzz-rng.ts';
import { wsMessageCase } from './test-fuzz-ws.ts';
import { wsFrame, wsFrameCase } from './test-fuzz-ws-frames.ts';
import { RawHttp } from './test-http.ts';
import type { RawOutcome, RawResponse } from './test-http.ts';
import { cleanups, closeTestServers, openStream, openWs, publish, start, wsUrl } from './test-server.ts';
import { waitFor } from './wait-for.ts';

afterEach(closeTestServers);

const seed = process.env.STADIUM_FUZZ_SEED ?? 'stadium-fuzz-1';
const scale = Number(process.env.STADIUM_FUZZ_SCALE ?? '1');
/** How long a case that only uWebSockets.js' parser sees is watched before the test hangs up. */
const silenceMs = 200;
/** How long a route's answer is waited for: a bound on a hang, not a speed target. */
const answerMs = 10_000;
const connectionsAtOnce = 24;
const payloadLimit = 1024;
/** The server's WebSocket message limit: the payload limit plus 4 KiB. */
const wsMessageBytesMax = payloadLimit + 4_096;

const show = (bytes: Buffer): string => JSON.stringify(bytes.toString('latin1').slice(0, 300));

/** An answer uWebSockets.js wrote itself, with no route run: its HTML 400, 431 or 505. */
function isParserAnswer(response: RawResponse): boolean {
  return (
    [400, 431, 505].includes(response.status) &&
    response.body.startsWith('<h1>') &&
    response.body.endsWith('<i>uWebSockets/20 Server</i>')
  );
}

/** Whether `value` is `{"error": string, "code": string}` (with more fields allowed). */
function isErrorBody(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { error, code } = value as Record<string, unknown>;
  return typeof error === 'string' && error !== '' && typeof code === 'string' && code !== '';
}

/** A route's answer to a malformed request: what is wrong with it, or null. */
function judgeRouteAnswer(c: HttpCase, response: RawResponse): string | null {
  const { status, headers, body } = response;
  if (headers['content-type'] !== 'application/json')
    return `${status} with Content-Type ${headers['content-type']}`;
  if (c.head)
    return status >= 400 && status < 500 && body === '' ? null : `HEAD answered ${status} with a body`;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return `${status} with a body that is not JSON: ${body.slice(0, 200)}`;
  }
  if (status === 200 && c.batch) {
    const results = (json as { results?: unknown }).results;
    const allRefused =
      Array.isArray(results) &&
      results.every(
        (r: unknown) =>
          isErrorBody(r) && (r as { status: number }).status >= 400 && (r as { status: number }).status < 500,
      );
    return allRefused ? null : `a batch of bad events answered ${body.slice(0, 200)}`;
  }
  if (status < 400 || status >= 500) return `status ${status}: ${body.slice(0, 200)}`;
  return isErrorBody(json)
    ? null
    : `${status} with a body that is not {"error","code"}: ${body.slice(0, 200)}`;
}

/** One HTTP case on a connection of its own: what is wrong with how it was answered, or null. */
async function runHttpCase(
  server: RunningServer,
  c: HttpCase,
): Promise<{ outcome: string; problem: string | null }> {
  const connection = await RawHttp.connect(server.port);
  let from = 0;
  for (const at of [...c.splits, c.bytes.length]) {
    connection.write(c.bytes.subarray(from, at));
    from = at;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const timeoutMs = c.expect === 'handler' ? answerMs : silenceMs;
  let outcome: RawOutcome = await connection.read({ head: c.head, timeoutMs });
  // `Expect: 100-continue` is answered with interim 100s first (uWebSockets.js writes one for
  // each route it tries).
  while (outcome.kind === 'response' && outcome.response.status === 100) {
    outcome = await connection.read({ head: c.head, timeoutMs });
  }
  connection.close();
  if (outcome.kind !== 'response') {
    return { outcome: outcome.kind, problem: c.expect === 'handler' ? `no answer (${outcome.kind})` : null };
  }
  if (isParserAnswer(outcome.response)) {
    const problem =
      c.expect === 'parser' ? null : `uWebSockets.js refused it itself: ${outcome.response.status}`;
    return { outcome: `parser ${outcome.response.status}`, problem };
  }
  return { outcome: 'route', problem: judgeRouteAnswer(c, outcome.response) };
}

/** Run `work` over `items`, `width` at a time. */
async function pool<T>(
  items: T[],
  width: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await work(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/** A WebSocket client that hands over each message it gets, in order. */
class FuzzWs {
  private readonly received: (Buffer | 'closed')[] = [];
  private wake: (() => void) | null = null;
  closeCode: number | null = null;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      this.received.push(isBinary ? Buffer.concat([Buffer.from('binary:'), data]) : data);
      this.wake?.();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.received.push('closed');
      this.wake?.();
    });
  }

  static async open(url: string): Promise<FuzzWs> {
    const socket = new WebSocket(url);
    cleanups.push(() => socket.terminate());
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new FuzzWs(socket);
  }

  /** The next message as text, 'closed', or null if none came within `timeoutMs`. */
  async next(timeoutMs: number): Promise<string | 'closed' | null> {
    const timer = setTimeout(() => this.wake?.(), timeoutMs);
    try {
      if (this.received.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
      const item = this.received.shift();
      return item === undefined ? null : item === 'closed' ? 'closed' : item.toString('utf8');
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What is wrong with a WebSocket reply to a bad message, or null: one `error` (4xx) or `notice`. */
function judgeWsReply(text: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `a reply that is not JSON: ${text.slice(0, 200)}`;
  }
  const reply = value as Record<string, unknown>;
  if (reply.type === 'notice' && typeof reply.code === 'string') return null;
  if (reply.type !== 'error') return `a reply that is neither an error nor a notice: ${text.slice(0, 200)}`;
  const status = reply.status;
  if (typeof status !== 'number' || status < 400 || status >= 500)
    return `an error with status ${String(status)}`;
  return isErrorBody(reply) ? null : `an error without "error" and "code": ${text.slice(0, 200)}`;
}

/** The frames the server sent (unmasked), as far as they are whole. */
function serverFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const frames: { opcode: number; payload: Buffer }[] = [];
  for (let at = 0; at + 2 <= bytes.length;) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > bytes.length) break;
      length = bytes.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (start + 8 > bytes.length) break;
      length = Number(bytes.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > bytes.length) break;
    frames.push({ opcode, payload: bytes.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}

/** What is wrong with the frames the server sent after a broken one, or null. */
function judgeServerFrames(bytes: Buffer): string | null {
  for (const { opcode, payload } of serverFrames(bytes)) {
    if (opcode === 1) {
      const problem = judgeWsReply(payload.toString('utf8'));
      if (problem !== null) return problem;
    } else if (![8, 9, 10].includes(opcode)) {
      return `a frame with opcode ${opcode}`;
    }
  }
  return null;
}

const handshake =
  'GET /v1/ws HTTP/1.1\r\nHost: stadium\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe(`fuzz (seed ${seed})`, () => {
  it('malformed HTTP, WebSocket messages and frames: no crash, routes answer JSON 4xx, delivery goes on', async () => {
    const server = await start({ payloadLimit: String(payloadLimit) });
    const rng = new FuzzRng(seed);
    // Viewers from before the fuzzing, who must still get what is published after it.
    const stream = await openStream(`${server.url}/v1/stream?topic=after-fuzz`);
    const viewer = await openWs(wsUrl(server));
    viewer.send({ type: 'subscribe', topic: 'after-fuzz' });
    await waitFor(() => viewer.messages.find((m) => m.type === 'subscribed'), 'the viewer subscribed');

    // HTTP.
    const cases = Array.from({ length: 400 * scale }, () => httpCase(rng));
    const problems: string[] = [];
    const outcomes = new Map<string, number>();
    await pool(cases, connectionsAtOnce, async (c, i) => {
      const { outcome, problem } = await runHttpCase(server, c);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (problem !== null) problems.push(`http #${i} ${c.name}: ${problem}\n  sent ${show(c.bytes)}`);
    });

    // WebSocket messages, one at a time on one socket: each bad message gets exactly one reply.
    let ws = await FuzzWs.open(wsUrl(server));
    let wsReplies = 0;
    let wsCloses = 0;
    for (let i = 0; i < 300 * scale; i++) {
      const c = wsMessageCase(rng, wsMessageBytesMax);
      const where = `ws message #${i} ${c.name} (${c.binary ? 'binary' : 'text'})`;
      ws.socket.send(c.data, { binary: c.binary });
      const reply = await ws.next(answerMs);
      if (c.expect === 'close') {
        if (reply !== 'closed') problems.push(`${where}: not closed but ${reply}`);
        else if (![1006, 1009].includes(ws.closeCode ?? 0))
          problems.push(`${where}: close code ${ws.closeCode}`);
        wsCloses++;
        ws = await FuzzWs.open(wsUrl(server));
        continue;
      }
      if (reply === null) {
        // Later messages would wait as long each: one is enough to tell.
        problems.push(`${where}: no reply`);
        break;
      }
      if (reply === 'closed') {
        problems.push(`${where}: closed`);
        ws = await FuzzWs.open(wsUrl(server));
        continue;
      }
      const problem = judgeWsReply(reply);
      if (problem !== null) problems.push(`${where}: ${problem}`);
      wsReplies++;
      // Nothing more than that one reply: a ping's pong comes next.
      ws.socket.send('{"type":"ping"}');
      const pong = await ws.next(answerMs);
      if (pong !== '{"type":"pong"}') problems.push(`${where}: a second reply ${pong}`);
    }

    // Raw WebSocket frames that break the protocol, each on a connection of its own.
    const frames = Array.from({ length: 120 * scale }, () => wsFrameCase(rng));
    await pool(frames, connectionsAtOnce, async (c, i) => {
      const connection = await RawHttp.connect(server.port);
      connection.write(handshake);
      const upgraded = await connection.read({ timeoutMs: answerMs });
      if (upgraded.kind !== 'response' || upgraded.response.status !== 101) {
        problems.push(`ws frame #${i}: no upgrade (${upgraded.kind})`);
        return;
      }
      connection.write(c.bytes);
      const { bytes } = await connection.drain({ timeoutMs: silenceMs });
      connection.close();
      const problem = judgeServerFrames(bytes);
      if (problem !== null) problems.push(`ws frame #${i} ${c.name}: ${problem}\n  sent ${show(c.bytes)}`);
    });

    expect(problems, `seed ${seed}`).toEqual([]);
    // The generator reaches every kind of answer (so a change that makes it degenerate shows).
    const count = (prefix: string): number =>
      [...outcomes].filter(([outcome]) => outcome.startsWith(prefix)).reduce((sum, [, n]) => sum + n, 0);
    expect(count('route'), JSON.stringify([...outcomes])).toBeGreaterThan(200 * scale);
    for (const outcome of ['parser 400', 'parser 431', 'parser 505', 'silent']) {
      expect(count(outcome), `${outcome} in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(0);
    }
    expect(wsReplies).toBeGreaterThan(200 * scale);
    expect(wsCloses).toBeGreaterThan(0);

    // And the server still delivers, to viewers from before.
    expect(await publish(server.url, { topic: 'after-fuzz', payload: 'still here' })).toMatchObject({
      status: 200,
    });
    await waitFor(
      () => stream.events().find((e) => e.payload === 'still here'),
      'the SSE viewer got the event',
    );
    await waitFor(
      () => viewer.messages.find((m) => m.payload === 'still here'),
      'the WebSocket viewer got it',
    );
    // Every fuzzing connection is forgotten once closed; the two viewers stay.
    ws.socket.close();
    await waitFor(() => server.health().connections === 2, 'two connections left').catch(() => {
      throw new Error(`connections left: ${JSON.stringify(server.health())}`);
    });
    expect(server.health()).toMatchObject({ status: 'ok' });
  });

  it('the frame builder makes frames the server accepts (so the broken ones are broken for their stated reason)', async () => {
    const server = await start();
    const rng = new FuzzRng(seed);
    const connection = await RawHttp.connect(server.port);
    connection.write(handshake);
    expect(await connection.read({ timeoutMs: answerMs })).toMatchObject({
      kind: 'response',
      response: { status: 101 },
    });
    connection.write(wsFrame(rng, { opcode: 1, payload: Buffer.from('{"type":"ping"}') }));
    const long = `{"type":"dance","pad":"${'x'.repeat(300)}"}`;
    connection.write(wsFrame(rng, { opcode: 1, payload: Buffer.from(long) }));
    let received = Buffer.alloc(0);
    const replies = await waitFor(async () => {
      received = Buffer.concat([received, (await connection.drain({ timeoutMs: 50 })).bytes]);
      const frames = serverFrames(received);
      return frames.length >= 2 && frames.map((f) => f.payload.toString());
    }, 'two replies');
    expect(replies[0]).toBe('{"type":"pong"}');
    expect(JSON.parse(replies[1] as string)).toMatchObject({ type: 'error', code: 'unknown-type' });
  });
});
