/**
 * A chaos run's viewers: real SSE streams and WebSockets to real frontends, behaving as the
 * simulator's viewers do (sim/world/clients.ts) and recording what they received, for the facts.
 *
 * Theory of operation
 * - Each viewer watches its topics over one connection at a time, to a frontend of its datacenter,
 *   and names itself in every connection's `x-stadium-viewer` header, so the frontend's facts say
 *   whose connection it is. Even viewers use SSE, odd ones WebSocket.
 * - It connects at its planned moment; a connection that fails or ends (its frontend died, froze
 *   past the connect timeout, or closed it) is replaced after a backoff drawn from the scenario's
 *   `reconnectBackoffMs`, to another frontend of its datacenter, resuming: best-effort from the last
 *   event id it received, reliable from its cursors (core/viewer-cursors.ts, the simulator's rules).
 *   Nobody reconnects once publishing has stopped, as in the simulator.
 * - Churn (WebSocket viewers only: an SSE stream's topics are fixed by its URL): it leaves its first
 *   topic at the scenario's rate and subscribes again after `rejoinAfterMs`.
 * - What it records is facts-to-be, with the run's clock: each event received (its stamp, position
 *   and the frontend it came from) and each connection it opened with the topics it resumed. The
 *   merge (chaos/merge.ts) ties them to the frontends' connection facts.
 * - Randomness comes from the run's seed (stream `chaos-viewers`); timing does not: the moments are
 *   the scenario's, the order of what happens at them is the machine's.
 */
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  cursorJoined,
  cursorLeft,
  cursorReceived,
  encodeCursors,
  type DcId,
  type DeliveryMode,
  type Event,
  type Position,
  type Topic,
  type TopicCursor,
  type ViewerCursors,
} from '../core/index.ts';
import { clientFrame, FrameReader, SseParser, viewerHeader, webSocketUpgrade } from '../prod/index.ts';
import { Rng, stampOf } from '../sim/index.ts';
import type { EventStamp } from '../sim/index.ts';
import { RunTimers } from './run-timers.ts';

export interface ViewerPlan {
  viewer: number;
  dc: DcId;
  transport: 'sse' | 'ws';
  topics: Topic[];
  /** When it first connects, in run milliseconds. */
  joinAtMs: number;
}

export interface FrontendAddress {
  /** The frontend as the facts name it. */
  node: string;
  url: string;
}

/** An event a viewer received. */
export interface ViewerReceipt {
  t: number;
  node: string;
  viewer: number;
  event: EventStamp;
  position?: Position;
}

/** A connection a viewer opened (SSE: answered 200; WebSocket: upgraded), with the topics it resumed. */
export interface ViewerOpened {
  t: number;
  node: string;
  viewer: number;
  resumes: Topic[];
}

export interface ViewerSettings {
  mode: DeliveryMode;
  seed: string;
  reconnectBackoffMs: { min: number; max: number };
  churnPerViewerPerMinute: number;
  rejoinAfterMs: number;
  /** No reconnects from this run moment on (publishing has stopped). */
  stopReconnectsAtMs: number;
  connectTimeoutMs: number;
  /** The run's clock, microseconds. */
  nowUs: () => number;
}

export interface ViewerRecords {
  receipts: ViewerReceipt[];
  opened: ViewerOpened[];
  /** Connection attempts that failed, by reason (counted, for the report). */
  failedAttempts: number;
}

interface WireEvent {
  id: string;
  topic: string;
  origin: string;
  payload: Event['payload'];
  position?: { dc: DcId; epoch: number; seq: number };
}

export class ChaosViewers {
  readonly records: ViewerRecords = { receipts: [], opened: [], failedAttempts: 0 };
  private readonly timers = new RunTimers();
  private readonly viewers: Viewer[] = [];

  constructor(
    plans: readonly ViewerPlan[],
    private readonly frontendsOf: (dc: DcId) => readonly FrontendAddress[],
    private readonly settings: ViewerSettings,
  ) {
    const rng = new Rng(settings.seed, 'chaos-viewers');
    for (const plan of plans) this.viewers.push(new Viewer(plan, this, rng));
  }

  start(startedAtMs: number): void {
    for (const viewer of this.viewers)
      this.later(Math.max(0, viewer.plan.joinAtMs - startedAtMs), () => viewer.connect(null));
  }

  /** Close every connection and cancel every timer: nothing more is recorded. */
  close(): void {
    this.timers.stop();
    for (const viewer of this.viewers) viewer.close();
  }

  get connected(): number {
    return this.viewers.filter((viewer) => viewer.open).length;
  }

  /** @internal */
  later(ms: number, action: () => void): void {
    this.timers.later(ms, action);
  }

  /** @internal */
  get config(): ViewerSettings {
    return this.settings;
  }

  /** @internal */
  frontends(dc: DcId): readonly FrontendAddress[] {
    return this.frontendsOf(dc);
  }

  /** @internal */
  get isStopped(): boolean {
    return this.timers.stopped;
  }
}

class Viewer {
  open = false;
  private readonly cursors: ViewerCursors = new Map();
  private lastEventId = '';
  private current: { abort(): void; send?(message: unknown): void } | null = null;
  private frontend: FrontendAddress | null = null;
  private closed = false;
  /** Topics it has left for now (churn). */
  private readonly away = new Set<Topic>();

  constructor(
    readonly plan: ViewerPlan,
    private readonly run: ChaosViewers,
    private readonly rng: Rng,
  ) {}

  connect(previous: FrontendAddress | null): void {
    if (this.closed) return;
    const all = this.run.frontends(this.plan.dc);
    const others = previous === null || all.length < 2 ? all : all.filter((f) => f.node !== previous.node);
    const frontend = this.rng.pick(others);
    this.frontend = frontend;
    const resumes = this.run.config.mode === 'reliable' ? this.heldCursors() : [];
    this.current = this.plan.transport === 'sse' ? this.sse(frontend, resumes) : this.ws(frontend, resumes);
  }

  close(): void {
    this.closed = true;
    this.current?.abort();
    this.current = null;
  }

  private heldCursors(): TopicCursor[] {
    return [...this.cursors.values()].filter((cursor) => this.plan.topics.includes(cursor.topic));
  }

  private opened(frontend: FrontendAddress, resumes: Topic[]): void {
    this.open = true;
    const { nowUs } = this.run.config;
    this.run.records.opened.push({ t: nowUs(), node: frontend.node, viewer: this.plan.viewer, resumes });
    this.scheduleChurn();
  }

  /** The connection ended, or an attempt failed: try again elsewhere after a backoff. */
  private ended(frontend: FrontendAddress, wasOpen: boolean): void {
    this.open = false;
    this.current = null;
    if (!wasOpen) this.run.records.failedAttempts++;
    if (this.closed || this.run.isStopped) return;
    const { reconnectBackoffMs, stopReconnectsAtMs, nowUs } = this.run.config;
    if (nowUs() / 1000 >= stopReconnectsAtMs) return;
    const backoff = this.rng.int(reconnectBackoffMs.min, reconnectBackoffMs.max);
    this.run.later(backoff, () => this.connect(frontend));
  }

  private received(frontend: FrontendAddress, body: WireEvent): void {
    const { nowUs } = this.run.config;
    const position = body.position;
    const stamp = stampOf({
      id: body.id,
      topic: body.topic,
      origin: body.origin,
      payload: body.payload,
    } as Event);
    this.run.records.receipts.push({
      t: nowUs(),
      node: frontend.node,
      viewer: this.plan.viewer,
      event: stamp,
      ...(position === undefined ? {} : { position: { epoch: position.epoch, seq: position.seq } }),
    });
    this.lastEventId = body.id;
    if (position !== undefined)
      cursorReceived(this.cursors, body.topic, position.dc, body.id, {
        epoch: position.epoch,
        seq: position.seq,
      });
  }

  private joined(
    topic: Topic,
    position: { dc: DcId; epoch: number; seq: number } | undefined,
    resumed: boolean,
  ): void {
    if (position !== undefined) cursorJoined(this.cursors, topic, position.dc, position, resumed);
  }

  private scheduleChurn(): void {
    const { churnPerViewerPerMinute, rejoinAfterMs } = this.run.config;
    if (this.plan.transport !== 'ws' || churnPerViewerPerMinute <= 0) return;
    const topic = this.plan.topics[0] as Topic;
    if (this.away.has(topic)) return;
    const afterMs = Math.round(this.rng.intervalUs(churnPerViewerPerMinute / 60) / 1000);
    const connection = this.current;
    this.run.later(afterMs, () => {
      if (this.current !== connection || connection?.send === undefined) return;
      this.away.add(topic);
      cursorLeft(this.cursors, topic);
      connection.send({ type: 'unsubscribe', topic });
      this.run.later(rejoinAfterMs, () => {
        this.away.delete(topic);
        if (this.current === connection) connection.send?.({ type: 'subscribe', topic });
        this.scheduleChurn();
      });
    });
  }

  private sse(frontend: FrontendAddress, held: TopicCursor[]): { abort(): void } {
    const query = this.plan.topics.map((t) => `topic=${encodeURIComponent(t)}`).join('&');
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      [viewerHeader]: String(this.plan.viewer),
    };
    const resumes: Topic[] = [];
    if (this.run.config.mode === 'reliable') {
      if (held.length > 0) {
        headers['last-event-id'] = encodeCursors(held);
        for (const cursor of held) resumes.push(cursor.topic);
      }
    } else if (this.lastEventId !== '') headers['last-event-id'] = this.lastEventId;
    const req = request(new URL(`/v1/stream?${query}`, frontend.url), { agent: false, headers });
    let open = false;
    let done = false;
    const timer = setTimeout(() => end(), this.run.config.connectTimeoutMs);
    const end = (): void => {
      clearTimeout(timer);
      if (done) return;
      done = true;
      req.destroy();
      this.ended(frontend, open);
    };
    req.once('error', end);
    req.once('response', (res: IncomingMessage) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        res.resume();
        res.once('end', end);
        return;
      }
      open = true;
      this.opened(frontend, resumes);
      const resuming = new Set(resumes);
      res.setEncoding('utf8');
      const parser = new SseParser((type, data) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(data);
        } catch {
          return;
        }
        if (type === 'message') this.received(frontend, parsed as WireEvent);
        else if (type === 'subscribed') {
          const joined = parsed as { topic: Topic; position?: WireEvent['position'] };
          this.joined(joined.topic, joined.position, resuming.delete(joined.topic));
        }
      });
      res.on('data', (chunk: string) => parser.push(chunk));
      res.once('close', end);
      res.once('error', end);
    });
    req.end();
    return {
      abort: () => {
        done = true;
        clearTimeout(timer);
        req.destroy();
      },
    };
  }

  private ws(
    frontend: FrontendAddress,
    held: TopicCursor[],
  ): { abort(): void; send(message: unknown): void } {
    const req = webSocketUpgrade(new URL('/v1/ws', frontend.url), {
      [viewerHeader]: String(this.plan.viewer),
    });
    let socket: Duplex | null = null;
    let open = false;
    let done = false;
    const timer = setTimeout(() => end(), this.run.config.connectTimeoutMs);
    const end = (): void => {
      clearTimeout(timer);
      if (done) return;
      done = true;
      req.destroy();
      socket?.destroy();
      this.ended(frontend, open);
    };
    const send = (message: unknown): void => {
      socket?.write(clientFrame(0x1, Buffer.from(JSON.stringify(message))));
    };
    req.once('error', end);
    req.once('response', (res: IncomingMessage) => {
      res.resume();
      end();
    });
    req.once('upgrade', (_res: IncomingMessage, upgraded: Duplex, head: Buffer) => {
      clearTimeout(timer);
      socket = upgraded;
      open = true;
      const topics = this.plan.topics.filter((topic) => !this.away.has(topic));
      const resumes: Topic[] = [];
      if (this.run.config.mode === 'reliable') {
        for (const cursor of held) if (topics.includes(cursor.topic)) resumes.push(cursor.topic);
      }
      this.opened(frontend, resumes);
      const resuming = new Set(resumes);
      const frames = new FrameReader((opcode, payload) => {
        if (opcode === 0x9) upgraded.write(clientFrame(0xa, payload));
        else if (opcode === 0x8) end();
        else if (opcode === 0x1) {
          let message: { type?: string; topic?: Topic; position?: WireEvent['position'] };
          try {
            message = JSON.parse(payload.toString('utf8')) as typeof message;
          } catch {
            return;
          }
          if (message.type === 'event') this.received(frontend, message as unknown as WireEvent);
          else if (message.type === 'subscribed' && message.topic !== undefined)
            this.joined(message.topic, message.position, resuming.delete(message.topic));
        }
      });
      upgraded.on('data', (chunk: Buffer) => {
        try {
          frames.push(chunk);
        } catch {
          end();
        }
      });
      upgraded.once('close', end);
      upgraded.on('error', () => {});
      if (topics.length > 0) {
        const cursors = held.filter((cursor) => resuming.has(cursor.topic));
        if (resumes.length > 0) send({ type: 'resume', topics, cursor: encodeCursors(cursors) });
        else if (this.run.config.mode === 'best-effort' && this.lastEventId !== '')
          send({ type: 'resume', topics, lastEventId: this.lastEventId });
        else send({ type: 'subscribe', topics });
      }
      if (head.length > 0) upgraded.emit('data', head);
    });
    req.end();
    return {
      abort: () => {
        done = true;
        clearTimeout(timer);
        req.destroy();
        socket?.destroy();
      },
      send,
    };
  }
}
