/**
 * Viewers for the reliable-mode fault measurements (prod/reliable-faults*.ts) and the soak: what a
 * viewer is to them (`FaultViewer`, `ViewerFactory`), and one made straight from the wire contract
 * (notes: wire-reliable), `wireViewer`, that reconnects and resumes as a careful client does. The
 * measurements take a `ViewerFactory`: the client library (prod/client-viewer.ts) by default, this
 * one with `--viewer wire`, which tells the server's doing from the library's.
 *
 * What a viewer records, in arrival order, without judging anything (prod/reliable-check.ts does):
 * every event (id, topic, position), every `subscribed` (join), every gap notice, every other
 * notice code, and every connection it held (frontend, when opened, when and why it ended). Nothing
 * is deduplicated or reordered here: a duplicate the server sends is a duplicate recorded.
 *
 * `wireViewer`, theory of operation
 * - One connection at a time for all its topics, to a frontend of its own datacenter: the first
 *   is `frontends[first]`; after a connection ends (or an attempt fails) the next attempt goes to
 *   the next frontend in the list, round robin, after a backoff: full jitter over
 *   min(`backoffMsMax`, `backoffMsMin` x 2^failures), failures counted since the last connection
 *   that joined.
 * - SSE: `GET /v1/stream?topic=..` with `Last-Event-ID` set to the last `id:` the stream wrote
 *   (the frontend's cursor text, as a browser's EventSource resends it). WebSocket: `subscribe`
 *   the first time; afterwards `resume` with the cursor text of the cursors it keeps by
 *   core/viewer-cursors.ts' rules (joined, received), the topics without a cursor starting afresh.
 * - An attempt that gets no answer within `connectTimeoutMs` (e.g. a frozen frontend) is given up.
 *   An open connection is never given up on for silence: a frontend that froze and resumed must
 *   catch its viewers up itself.
 * - `close()` ends it for good; nothing is recorded as a drop after it.
 */
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { cursorJoined, cursorReceived, encodeCursors } from '../core/index.ts';
import type { DcId, Gap, ViewerCursors } from '../core/index.ts';
import { clientFrame, FrameReader, SseParser, webSocketUpgrade } from './raw-viewers.ts';
import type { ViewerTransport } from './raw-viewers.ts';

/** Where an event or a join stands in its datacenter's history of the topic. */
export interface WirePosition {
  dc: DcId;
  epoch: number;
  seq: number;
}

export interface ViewerSpec {
  name: string;
  /** The datacenter whose frontends the viewer uses; it never leaves it. */
  dc: DcId;
  transport: ViewerTransport;
  /** The datacenter's frontends' base URLs. */
  frontends: readonly string[];
  /** Index into `frontends` of the first connection's frontend. */
  first: number;
  topics: readonly string[];
}

/**
 * One event as the viewer received it. `n` numbers the viewer's events, joins and gaps together
 * in arrival order (a clock's millisecond cannot); `connection` indexes `ViewerLog.connections`.
 */
export interface EventReceipt {
  n: number;
  id: string;
  topic: string;
  position: WirePosition | null;
  atMs: number;
  connection: number;
}

export interface JoinReceipt {
  n: number;
  topic: string;
  position: WirePosition | null;
  atMs: number;
  connection: number;
}

export interface GapReceipt {
  n: number;
  gap: Gap;
  atMs: number;
  connection: number;
}

export interface ConnectionRecord {
  frontend: string;
  openedAtMs: number;
  /** When it ended and why; null while it holds (or when `close()` ended it). */
  endedAtMs: number | null;
  reason: string | null;
}

export interface ViewerLog {
  readonly events: EventReceipt[];
  readonly joins: JoinReceipt[];
  readonly gaps: GapReceipt[];
  /** Codes of every notice, gap notices included, with when. */
  readonly notices: { code: string; atMs: number }[];
  readonly connections: ConnectionRecord[];
  /** Connection attempts that failed, with why (the last `failedAttemptsKept`). */
  readonly failedAttempts: { frontend: string; atMs: number; reason: string }[];
  failedAttemptsTotal: number;
}

export interface FaultViewer {
  readonly spec: ViewerSpec;
  readonly log: ViewerLog;
  /** When `close()` was called, or null. */
  closedAtMs(): number | null;
  /** Whether a connection is open now. */
  connected(): boolean;
  /**
   * Drop the connection as a network failure would; the viewer reconnects and resumes by itself.
   * Optional: a viewer that cannot be made to is simply not bounced.
   */
  bounce?(): void;
  close(): void;
}

/** Makes a viewer and resolves once its first connection is open (SSE: 200; WebSocket: joined). */
export type ViewerFactory = (spec: ViewerSpec) => Promise<FaultViewer>;

export const wireViewerLimits = {
  connectTimeoutMs: 2_000,
  backoffMsMin: 100,
  backoffMsMax: 2_000,
  /** The first connection must open within this, or the factory fails. */
  firstConnectionMsMax: 30_000,
  failedAttemptsKept: 20,
};

interface Attempt {
  /** Ends the connection or attempt without recording a drop. */
  abort(): void;
}

interface WireMessage {
  type?: string;
  id?: string;
  topic?: string;
  position?: WirePosition;
  code?: string;
  gap?: Gap;
}

export function wireViewer(spec: ViewerSpec, limits = wireViewerLimits): Promise<FaultViewer> {
  const log: ViewerLog = {
    events: [],
    joins: [],
    gaps: [],
    notices: [],
    connections: [],
    failedAttempts: [],
    failedAttemptsTotal: 0,
  };
  const cursors: ViewerCursors = new Map();
  let lastSseId = '';
  let closedAt: number | null = null;
  let current: Attempt | null = null;
  let open = false;
  let failures = 0;
  let next = spec.first;
  let retryTimer: NodeJS.Timeout | null = null;
  let firstOpen: ((viewer: FaultViewer) => void) | null = null;

  const viewer: FaultViewer = {
    spec,
    log,
    closedAtMs: () => closedAt,
    connected: () => open,
    bounce() {
      if (closedAt !== null || !open) return;
      current?.abort();
      current = null;
      ended(log.connections.length - 1, 'bounced by the measurement');
    },
    close() {
      if (closedAt !== null) return;
      closedAt = Date.now();
      if (retryTimer !== null) clearTimeout(retryTimer);
      current?.abort();
    },
  };

  const failed = (frontend: string, reason: string): void => {
    log.failedAttemptsTotal++;
    log.failedAttempts.push({ frontend, atMs: Date.now(), reason });
    if (log.failedAttempts.length > limits.failedAttemptsKept) log.failedAttempts.shift();
  };

  let arrivals = 0;
  const onMessage = (message: WireMessage, connection: number): void => {
    const atMs = Date.now();
    const n = arrivals++;
    if (message.type === 'event' && typeof message.id === 'string' && typeof message.topic === 'string') {
      const position = message.position ?? null;
      log.events.push({ n, id: message.id, topic: message.topic, position, atMs, connection });
      if (position !== null) cursorReceived(cursors, message.topic, position.dc, message.id, position);
    } else if (message.type === 'subscribed' && typeof message.topic === 'string') {
      const position = message.position ?? null;
      log.joins.push({ n, topic: message.topic, position, atMs, connection });
      const resumed = log.connections.length > 1;
      if (position !== null) cursorJoined(cursors, message.topic, position.dc, position, resumed);
    } else if (message.type === 'notice') {
      log.notices.push({ code: message.code ?? '', atMs });
      if (message.code === 'gap' && message.gap !== undefined)
        log.gaps.push({ n, gap: message.gap, atMs, connection });
    }
  };

  const opened = (frontend: string): number => {
    open = true;
    failures = 0;
    log.connections.push({ frontend, openedAtMs: Date.now(), endedAtMs: null, reason: null });
    return log.connections.length - 1;
  };

  const ended = (connection: number, reason: string): void => {
    const record = log.connections[connection];
    if (record === undefined || record.endedAtMs !== null) return;
    open = false;
    current = null;
    if (closedAt !== null) return;
    record.endedAtMs = Date.now();
    record.reason = reason;
    schedule();
  };

  const attemptFailed = (frontend: string, reason: string): void => {
    current = null;
    if (closedAt !== null) return;
    failed(frontend, reason);
    failures++;
    schedule();
  };

  const schedule = (): void => {
    const ceiling = Math.min(limits.backoffMsMax, limits.backoffMsMin * 2 ** Math.min(failures, 16));
    retryTimer = setTimeout(connect, Math.random() * ceiling);
  };

  const connect = (): void => {
    retryTimer = null;
    if (closedAt !== null) return;
    const frontend = spec.frontends[next % spec.frontends.length] as string;
    next++;
    const handlers = { opened, ended, attemptFailed, onMessage, firstOpened: () => firstOpen?.(viewer) };
    current =
      spec.transport === 'sse'
        ? connectSse(frontend, spec.topics, lastSseId, limits, handlers, (id) => (lastSseId = id))
        : connectWs(frontend, spec.topics, cursors, limits, handlers);
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      viewer.close();
      const last = log.failedAttempts.at(-1);
      reject(
        new Error(
          `${spec.name}: no connection within ${limits.firstConnectionMsMax} ms${last === undefined ? '' : ` (last attempt: ${last.reason})`}`,
        ),
      );
    }, limits.firstConnectionMsMax);
    firstOpen = (v) => {
      firstOpen = null;
      clearTimeout(timer);
      resolve(v);
    };
    connect();
  });
}

interface Handlers {
  opened(frontend: string): number;
  ended(connection: number, reason: string): void;
  attemptFailed(frontend: string, reason: string): void;
  onMessage(message: WireMessage, connection: number): void;
  firstOpened(): void;
}

function connectSse(
  frontend: string,
  topics: readonly string[],
  lastEventId: string,
  limits: typeof wireViewerLimits,
  h: Handlers,
  sawId: (id: string) => void,
): Attempt {
  const query = topics.map((t) => `topic=${encodeURIComponent(t)}`).join('&');
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (lastEventId !== '') headers['last-event-id'] = lastEventId;
  const req = request(new URL(`/v1/stream?${query}`, frontend), { agent: false, headers });
  let connection: number | null = null;
  let aborted = false;
  const timer = setTimeout(() => {
    aborted = true;
    req.destroy();
    h.attemptFailed(frontend, `no answer within ${limits.connectTimeoutMs} ms`);
  }, limits.connectTimeoutMs);
  const end = (reason: string): void => {
    clearTimeout(timer);
    if (aborted) return;
    aborted = true;
    if (connection === null) h.attemptFailed(frontend, reason);
    else h.ended(connection, reason);
  };
  req.once('error', (error) => end(`error: ${error.message}`));
  req.once('response', (res: IncomingMessage) => {
    clearTimeout(timer);
    if (res.statusCode !== 200) {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body = (body + chunk).slice(0, 300)));
      res.once('end', () => end(`answered ${res.statusCode}: ${body}`));
      res.once('error', () => end(`answered ${res.statusCode}`));
      return;
    }
    const id = h.opened(frontend);
    connection = id;
    res.setEncoding('utf8');
    const parser = new SseParser((type, data, lastId) => {
      if (lastId !== '') sawId(lastId);
      let parsed: WireMessage;
      try {
        parsed = JSON.parse(data) as WireMessage;
      } catch {
        return;
      }
      if (type === 'message') h.onMessage({ ...parsed, type: 'event' }, id);
      else if (type === 'subscribed' || type === 'notice') h.onMessage({ ...parsed, type }, id);
    });
    res.on('data', (chunk: string) => parser.push(chunk));
    res.once('close', () => end('stream closed'));
    res.once('error', (error) => end(`error: ${error.message}`));
    h.firstOpened();
  });
  req.end();
  return {
    abort() {
      aborted = true;
      clearTimeout(timer);
      req.destroy();
    },
  };
}

function connectWs(
  frontend: string,
  topics: readonly string[],
  cursors: ViewerCursors,
  limits: typeof wireViewerLimits,
  h: Handlers,
): Attempt {
  const req = webSocketUpgrade(new URL('/v1/ws', frontend));
  let socket: Duplex | null = null;
  let connection: number | null = null;
  let aborted = false;
  const joined = new Set<string>();
  const timer = setTimeout(() => {
    aborted = true;
    req.destroy();
    socket?.destroy();
    h.attemptFailed(frontend, `not upgraded within ${limits.connectTimeoutMs} ms`);
  }, limits.connectTimeoutMs);
  const end = (reason: string): void => {
    clearTimeout(timer);
    if (aborted) return;
    aborted = true;
    socket?.destroy();
    if (connection === null) h.attemptFailed(frontend, reason);
    else h.ended(connection, reason);
  };
  req.once('error', (error) => end(`error: ${error.message}`));
  req.once('response', (res: IncomingMessage) => {
    res.resume();
    end(`refused the upgrade with ${res.statusCode}`);
  });
  req.once('upgrade', (_res: IncomingMessage, upgraded: Duplex, head: Buffer) => {
    clearTimeout(timer);
    socket = upgraded;
    const id = h.opened(frontend);
    connection = id;
    const send = (message: unknown): void => {
      upgraded.write(clientFrame(0x1, Buffer.from(JSON.stringify(message))));
    };
    const frames = new FrameReader((opcode, payload) => {
      if (opcode === 0x9) upgraded.write(clientFrame(0xa, payload));
      else if (opcode === 0x8)
        end(`close frame ${payload.length >= 2 ? payload.readUInt16BE(0) : ''}`.trim());
      else if (opcode === 0x1) {
        let message: WireMessage;
        try {
          message = JSON.parse(payload.toString('utf8')) as WireMessage;
        } catch {
          return;
        }
        if (message.type === 'error') {
          end(`error message: ${payload.toString('utf8').slice(0, 300)}`);
          return;
        }
        h.onMessage(message, id);
        if (message.type === 'subscribed' && typeof message.topic === 'string') {
          joined.add(message.topic);
          if (topics.every((t) => joined.has(t))) h.firstOpened();
        }
      }
    });
    upgraded.on('data', (chunk: Buffer) => {
      try {
        frames.push(chunk);
      } catch (error) {
        end(String(error));
      }
    });
    upgraded.once('close', () => end('socket closed'));
    upgraded.on('error', () => {});
    const held = [...cursors.values()].filter((c) => topics.includes(c.topic));
    if (held.length === 0) send({ type: 'subscribe', topics });
    else send({ type: 'resume', topics, cursor: encodeCursors(held) });
    if (head.length > 0) upgraded.emit('data', head);
  });
  req.end();
  return {
    abort() {
      aborted = true;
      clearTimeout(timer);
      req.destroy();
      socket?.destroy();
    },
  };
}
