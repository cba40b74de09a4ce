/**
 * A frontend's client connections as transports: SSE responses and WebSockets, what is written to
 * them, and how slow readers are kept from growing memory. Which connection gets which event is the
 * core's decision; this module only writes, counts, and closes.
 *
 * Rules
 * - Each event is formatted once per fan-out (one string per transport), not once per connection.
 * - A live fan-out (every viewer of a topic) reaches WebSockets through uWebSockets.js' own pub/sub:
 *   each WebSocket is subscribed there to exactly the topics the core holds for it (the core's
 *   `joined` and `left` effects), so one `publish` in C++ replaces a JavaScript write per socket.
 *   Replays to one connection and notices are written here one by one.
 * - Both transports batch per event-loop iteration: the iteration's publishes are made together
 *   right after it (`setImmediate`), so uWebSockets.js writes each socket's frames of all of them at
 *   once (published one by one from a promise continuation, each was written by itself: a third of
 *   the throughput), and what one SSE stream is given is written as one chunk. One system call and
 *   one wake-up of the reader per iteration instead of one per event; an iteration's events arrive
 *   together anyway, so this adds no waiting.
 * - Order per connection stays the core's: queued publishes are made before a WebSocket's topics
 *   change (so a resume's replay and a queued live event never both reach it) and before any
 *   direct write to a WebSocket.
 * - A connection may hold `slowClientBytes` of unsent data. WebSocket: uWebSockets.js' buffered
 *   amount, which its pub/sub checks by the same rule, reporting skipped frames to `dropped`. SSE:
 *   uWebSockets.js keeps whatever the socket did not take, and a write that returns true took
 *   everything, so `congestedBytes` counts what may be waiting since the last such write.
 * - Past the limit, policy `close` closes the connection at once; `drop` skips its events while a
 *   three-byte probe write says the backlog has not drained, and closes it at twice the limit, so
 *   memory stays bounded whatever a client does. Both are counted.
 * - When a transport goes away (the client left, or we closed it), `onGone` tells the host once.
 * - Viewer counts (the core's `occupancy` effect) go to the connections that asked, formatted once
 *   per update. WebSockets that were told a topic's count once are subscribed in uWebSockets.js'
 *   pub/sub to the topic's occupancy channel (`occupancyChannel`, a name no topic can have); an
 *   update whose list holds every socket of that channel (`subscribers`) is one publish there, so
 *   "N watching" reaches a hundred thousand sockets in one C++ loop. Otherwise, and to a watcher's
 *   first count, it is written to each socket directly: a socket the core no longer lists (it
 *   left the topic without a `left`) keeps the channel from being used, and never gets a count it
 *   was not meant to get. A socket leaves the channel with the topic (`left`).
 *
 * Reliable mode (events carry their position; prod/wire.ts)
 * - Each SSE connection keeps its viewer's cursors by core/viewer-cursors.ts (`cursorJoined` on
 *   `joined`, resumed when it answers the connection's resume; `cursorReceived` per event;
 *   `cursorLeft` on `left`), seeded with the cursors it resumed from, and every event's and
 *   `subscribed` frame's `id:` is that connection's cursor text: SSE ids are per connection, so
 *   the `id:` line is made per connection and the rest of the frame once per fan-out. WebSocket
 *   clients keep their own cursors from the positions, so their frames stay one per fan-out.
 * - A reliable `joined` comes when a viewer's place is known, which may be before it has caught up
 *   (it is not yet among the stream's live viewers). So a WebSocket enters uWebSockets.js' pub/sub
 *   for a topic only when a whole-topic fan-out first lists it (after the publishes queued so far),
 *   not at `joined`; until then what it gets is written to it directly, in the core's order.
 */
import type { HttpResponse, WebSocket } from 'uWebSockets.js';
import { cursorJoined, cursorLeft, cursorReceived, encodeCursors } from '../core/index.ts';
import type {
  ConnectionId,
  DcId,
  DeliveryMode,
  Event,
  Notice,
  Occupancy,
  Position,
  Topic,
  TopicCursor,
  ViewerCursors,
} from '../core/index.ts';
import type { TopicGrant } from './auth.ts';
import type { SlowClientPolicy } from './config.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Recorder } from './recorder.ts';
import {
  sseComment,
  sseEvent,
  sseEventTail,
  sseIdLine,
  sseNotice,
  sseOccupancy,
  sseRetry,
  sseSubscribed,
  wirePosition,
  wsEvent,
  wsNotice,
  wsOccupancy,
  wsSubscribed,
} from './wire.ts';

export interface SseConnection {
  kind: 'sse';
  id: ConnectionId;
  res: HttpResponse;
  open: boolean;
  congestedBytes: number;
  /** Frames given in this event-loop iteration, written together after it; how many are events. */
  batch: string;
  batchFrames: number;
  batchEvents: number;
  /** Reliable mode: the viewer's cursors, whose text is each frame's `id:`; null in best-effort. */
  cursors: ViewerCursors | null;
  /** Reliable mode: topics it resumed from a cursor whose `joined` has not come yet. */
  resuming: Set<Topic>;
}

/** What uWebSockets.js keeps with each WebSocket. */
export interface WsData {
  id: ConnectionId;
  /** Open without auth; null when a token is still to be verified. */
  grant: TopicGrant | null;
  /** What the client said it is in its `x-stadium-viewer` header (chaos runs), or empty. */
  viewer: string;
}

export interface WsConnection {
  kind: 'ws';
  id: ConnectionId;
  ws: WebSocket<WsData>;
  open: boolean;
  /** Past the limit under policy `close`: closed once uWebSockets.js' fan-out loop is done. */
  closingSlow: boolean;
  /** Which topics it may join; null while its token is being verified. */
  grant: TopicGrant | null;
  /** Messages that arrived before the verdict on its token, handled once it is known. */
  held: ArrayBuffer[];
  /** Reliable mode: topics it is subscribed to in uWebSockets.js' pub/sub (see the header). */
  pubsubTopics: Set<Topic>;
  /** Topics whose occupancy channel it is subscribed to in uWebSockets.js' pub/sub (see the header). */
  occupancyTopics: Set<Topic>;
}

/** uWebSockets.js' pub/sub, as the clients use it. */
export interface PubSub {
  /** `app.publish`: one frame to every WebSocket subscribed to the topic. */
  publish(topic: string, frame: string): void;
  /** `app.numSubscribers`: how many WebSockets are subscribed to the topic. */
  subscribers(topic: string): number;
}

/** The pub/sub topic of a topic's viewer counts: the space keeps it apart from every topic name. */
export function occupancyChannel(topic: Topic): string {
  return `occupancy ${topic}`;
}

export type Connection = SseConnection | WsConnection;

export interface ClientsConfig {
  slowClientPolicy: SlowClientPolicy;
  slowClientBytes: number;
  sseRetryMs: number;
  /** Best-effort when absent. */
  mode?: DeliveryMode;
  /** This frontend's datacenter: where reliable positions count. */
  dc?: DcId;
}

/** How a connection is closed: `end` flushes, `force` drops unsent data, `retry` first tells SSE clients when to come back. */
export type CloseHow = 'end' | 'force' | 'retry';

export class Clients {
  private readonly connections = new Map<ConnectionId, Connection>();
  /** SSE streams with a batch to write after this event-loop iteration. */
  private readonly batched: SseConnection[] = [];
  /** Whole-topic WebSocket frames of this iteration, published together after it. */
  private publishes: { topic: Topic; frame: string }[] = [];
  private flushScheduled = false;
  private readonly reliable: boolean;
  private readonly dc: DcId;

  constructor(
    private readonly config: ClientsConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly onGone: (id: ConnectionId) => void,
    private readonly pubsub: PubSub,
    /** Told of every connection that opens and goes (chaos runs); null: nobody is. */
    private readonly recorder: Recorder | null = null,
  ) {
    this.reliable = config.mode === 'reliable';
    this.dc = config.dc ?? 'local';
  }

  get size(): number {
    return this.connections.size;
  }

  counts(): { sse: number; ws: number } {
    let sse = 0;
    for (const conn of this.connections.values()) if (conn.kind === 'sse') sse++;
    return { sse, ws: this.connections.size - sse };
  }

  get(id: ConnectionId): Connection | undefined {
    return this.connections.get(id);
  }

  all(): Connection[] {
    return [...this.connections.values()];
  }

  /**
   * Start an SSE stream on `res` (inside its request handler, or corked later): headers, retry hint.
   * `resumeFrom` (reliable mode): the cursors of the topics it resumes, where its own start.
   */
  openSse(
    id: ConnectionId,
    res: HttpResponse,
    resumeFrom: readonly TopicCursor[] = [],
    viewer = '',
  ): SseConnection {
    const conn: SseConnection = {
      kind: 'sse',
      id,
      res,
      open: true,
      congestedBytes: 0,
      batch: '',
      batchFrames: 0,
      batchEvents: 0,
      cursors: this.reliable ? new Map(resumeFrom.map((cursor) => [cursor.topic, cursor])) : null,
      resuming: new Set(this.reliable ? resumeFrom.map((cursor) => cursor.topic) : []),
    };
    this.connections.set(id, conn);
    this.recorder?.connectionOpened(id, viewer);
    res.cork(() => {
      res
        .writeStatus('200 OK')
        .writeHeader('Content-Type', 'text/event-stream; charset=utf-8')
        .writeHeader('Cache-Control', 'no-cache, no-transform')
        .writeHeader('X-Accel-Buffering', 'no')
        .writeHeader('Access-Control-Allow-Origin', '*');
      res.write(`${sseRetry(this.config.sseRetryMs)}${sseComment(`connected ${id}`)}`);
    });
    return conn;
  }

  openWs(ws: WebSocket<WsData>): WsConnection {
    // uWebSockets.js hands back a copy of the upgrade's user data: state lives here instead.
    const { id, grant, viewer } = ws.getUserData();
    const conn: WsConnection = {
      kind: 'ws',
      id,
      ws,
      open: true,
      closingSlow: false,
      grant,
      held: [],
      pubsubTopics: new Set(),
      occupancyTopics: new Set(),
    };
    this.connections.set(id, conn);
    this.recorder?.connectionOpened(id, viewer);
    return conn;
  }

  /** The transport went away by itself (the client left): it must not be touched again. */
  lost(id: ConnectionId): void {
    const conn = this.connections.get(id);
    if (conn === undefined || !conn.open) return;
    conn.open = false;
    this.connections.delete(id);
    this.recorder?.connectionClosed(id);
    this.onGone(id);
  }

  /**
   * `wholeTopic`: `ids` are every viewer of the event's topic, so WebSockets get one publish.
   * `position`: reliable mode, where the event stands in this datacenter's history.
   */
  deliver(ids: readonly ConnectionId[], event: Event, wholeTopic: boolean, position?: Position): void {
    if (position !== undefined) return this.deliverSequenced(ids, event, wholeTopic, position);
    let sse: string | null = null;
    let ws: string | null = null;
    let wsCount = 0;
    for (const id of ids) {
      const conn = this.connections.get(id);
      if (conn === undefined || !conn.open) continue;
      if (conn.kind === 'sse') {
        sse ??= sseEvent(event);
        this.batchSse(conn, sse, true);
      } else if (wholeTopic) {
        wsCount++;
      } else {
        ws ??= wsEvent(event);
        if (this.writeWs(conn, ws)) wsCount++;
      }
    }
    if (wholeTopic && wsCount > 0) {
      this.publishes.push({ topic: event.topic, frame: wsEvent(event) });
      this.scheduleFlush();
    }
    if (wsCount > 0) this.metrics.deliveries.inc({ transport: 'ws' }, wsCount);
  }

  /** Reliable mode's deliver: SSE `id:` lines per connection, WebSocket frames once (see the header). */
  private deliverSequenced(
    ids: readonly ConnectionId[],
    event: Event,
    wholeTopic: boolean,
    position: Position,
  ): void {
    const wire = wirePosition(this.dc, position);
    let sseTail: string | null = null;
    let ws: string | null = null;
    let wsCount = 0;
    for (const id of ids) {
      const conn = this.connections.get(id);
      if (conn === undefined || !conn.open) continue;
      if (conn.kind === 'sse') {
        sseTail ??= sseEventTail(event, wire);
        if (conn.cursors !== null) cursorReceived(conn.cursors, event.topic, this.dc, event.id, position);
        this.batchSse(conn, sseIdLine(this.cursorText(conn)) + sseTail, true);
        continue;
      }
      ws ??= wsEvent(event, wire);
      if (!wholeTopic) {
        if (this.writeWs(conn, ws)) wsCount++;
        continue;
      }
      if (!conn.pubsubTopics.has(event.topic)) {
        // Its first live fan-out: it joins the pub/sub after the frames queued so far, not theirs.
        this.flushPublishes();
        conn.ws.subscribe(event.topic);
        conn.pubsubTopics.add(event.topic);
      }
      wsCount++;
    }
    if (wholeTopic && ws !== null && wsCount > 0) {
      this.publishes.push({ topic: event.topic, frame: ws });
      this.scheduleFlush();
    }
    if (wsCount > 0) this.metrics.deliveries.inc({ transport: 'ws' }, wsCount);
  }

  /** An SSE connection's cursor text (reliable mode), or null while it has no cursor. */
  private cursorText(conn: SseConnection): string | null {
    if (conn.cursors === null || conn.cursors.size === 0) return null;
    return encodeCursors([...conn.cursors.values()]);
  }

  notice(id: ConnectionId, notice: Notice): void {
    const conn = this.connections.get(id);
    if (conn === undefined || !conn.open) return;
    if (conn.kind === 'sse') this.batchSse(conn, sseNotice(notice), false);
    else this.writeWs(conn, wsNotice(notice));
  }

  /**
   * The core put a connection on `topic`. Best-effort: a WebSocket joins it in uWebSockets.js'
   * pub/sub too (after the publishes queued so far, which it must not get) and is told
   * `subscribed`. Reliable (`position`: it gets every seq after it): the connection's cursor is
   * set, a WebSocket is told `subscribed` with the position (it enters the pub/sub at its first
   * live fan-out), an SSE stream `event: subscribed` with its cursor text as `id:`.
   */
  joined(id: ConnectionId, topic: Topic, position?: Position): void {
    const conn = this.connections.get(id);
    if (conn === undefined || !conn.open) return;
    if (position === undefined || !this.reliable) {
      if (conn.kind !== 'ws') return;
      this.flushPublishes();
      conn.ws.subscribe(topic);
      this.writeWs(conn, wsSubscribed(topic));
      return;
    }
    const wire = wirePosition(this.dc, position);
    if (conn.kind === 'ws') {
      this.writeWs(conn, wsSubscribed(topic, wire));
      return;
    }
    if (conn.cursors !== null) {
      cursorJoined(conn.cursors, topic, this.dc, position, conn.resuming.delete(topic));
    }
    this.batchSse(conn, sseSubscribed(this.cursorText(conn), topic, wire), false);
  }

  /** The core took a connection off `topic` (after the publishes queued so far, which it gets). */
  left(id: ConnectionId, topic: Topic): void {
    const conn = this.connections.get(id);
    if (conn === undefined || !conn.open) return;
    if (conn.kind === 'sse') {
      if (conn.cursors !== null) cursorLeft(conn.cursors, topic);
      conn.resuming.delete(topic);
      return;
    }
    this.flushPublishes();
    if (!this.reliable || conn.pubsubTopics.delete(topic)) conn.ws.unsubscribe(topic);
    if (conn.occupancyTopics.delete(topic)) conn.ws.unsubscribe(occupancyChannel(topic));
  }

  /** A topic's viewer count to the connections that asked for it (see the header). */
  occupancy(ids: readonly ConnectionId[], occupancy: Occupancy): void {
    const { topic } = occupancy;
    let sse: string | null = null;
    let sseCount = 0;
    const members: WsConnection[] = [];
    const joining: WsConnection[] = [];
    for (const id of ids) {
      const conn = this.connections.get(id);
      if (conn === undefined || !conn.open) continue;
      if (conn.kind === 'sse') {
        sse ??= sseOccupancy(occupancy);
        this.batchSse(conn, sse, false);
        sseCount++;
      } else (conn.occupancyTopics.has(topic) ? members : joining).push(conn);
    }
    if (sseCount > 0) this.metrics.occupancyUpdates.inc({ transport: 'sse' }, sseCount);
    if (members.length === 0 && joining.length === 0) return;
    const frame = wsOccupancy(occupancy);
    const channel = occupancyChannel(topic);
    let wsCount = 0;
    if (members.length > 0 && members.length === this.pubsub.subscribers(channel)) {
      this.publishes.push({ topic: channel, frame });
      this.scheduleFlush();
      wsCount += members.length;
    } else {
      for (const conn of members) if (this.writeWs(conn, frame)) wsCount++;
    }
    for (const conn of joining) {
      // writeWs makes the queued publishes first, the channel's included: it is not sent this twice.
      if (this.writeWs(conn, frame)) wsCount++;
      if (!conn.open) continue;
      conn.ws.subscribe(channel);
      conn.occupancyTopics.add(topic);
    }
    if (wsCount > 0) this.metrics.occupancyUpdates.inc({ transport: 'ws' }, wsCount);
  }

  /**
   * uWebSockets.js skipped a published frame for a WebSocket over `slowClientBytes` (the check
   * `writeWs` makes): count the drop, or under policy `close` close the connection — after the
   * fan-out loop that called us, not inside it.
   */
  dropped(id: ConnectionId): void {
    const conn = this.connections.get(id);
    if (conn?.kind !== 'ws' || !conn.open) return;
    if (this.config.slowClientPolicy === 'drop') {
      this.metrics.backpressure.inc({ transport: 'ws', action: 'drop' });
      return;
    }
    if (conn.closingSlow) return;
    conn.closingSlow = true;
    setImmediate(() => {
      if (conn.open) this.slow(conn);
    });
  }

  /** One WebSocket protocol message (an error, an acknowledgement); false when it was not sent. */
  send(conn: WsConnection, text: string): boolean {
    return conn.open && this.writeWs(conn, text);
  }

  heartbeat(): void {
    for (const conn of this.connections.values()) {
      if (conn.kind === 'sse' && conn.open && conn.congestedBytes === 0 && conn.batchFrames === 0)
        this.writeSse(conn, sseComment('heartbeat'));
    }
  }

  close(conn: Connection, how: CloseHow, reason: string): void {
    if (!conn.open) return;
    conn.open = false;
    this.connections.delete(conn.id);
    this.recorder?.connectionClosed(conn.id);
    this.onGone(conn.id);
    if (conn.kind === 'sse') {
      // What it was given before the close goes first, unless the close drops unsent data anyway.
      const batch = conn.batch;
      conn.batch = '';
      // Closing forcibly runs the abort handler at once; `open` is already false, so it does nothing.
      conn.res.cork(() => {
        if (how === 'force') conn.res.close();
        else {
          const last = how === 'retry' ? batch + sseRetry(this.config.sseRetryMs) : batch;
          if (last !== '') conn.res.write(last);
          conn.res.end();
        }
      });
    } else if (how === 'force') {
      conn.ws.close();
    } else {
      conn.ws.end(how === 'retry' ? 1001 : 1008, reason.slice(0, 100));
    }
  }

  private batchSse(conn: SseConnection, frame: string, isEvent: boolean): void {
    if (conn.batchFrames === 0) this.batched.push(conn);
    conn.batch += frame;
    conn.batchFrames++;
    if (isEvent) conn.batchEvents++;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.flushPublishes();
    this.flushSse();
  };

  private flushPublishes(): void {
    if (this.publishes.length === 0) return;
    const publishes = this.publishes;
    this.publishes = [];
    for (const { topic, frame } of publishes) this.pubsub.publish(topic, frame);
  }

  private flushSse(): void {
    let delivered = 0;
    for (const conn of this.batched) {
      const { batch, batchFrames, batchEvents } = conn;
      conn.batch = '';
      conn.batchFrames = 0;
      conn.batchEvents = 0;
      if (!conn.open) continue;
      if (this.writeSse(conn, batch, batchFrames)) delivered += batchEvents;
    }
    this.batched.length = 0;
    if (delivered > 0) this.metrics.deliveries.inc({ transport: 'sse' }, delivered);
  }

  /** Write `chunk` (`frames` frames, counted when they are dropped) unless the stream is past the limit. */
  private writeSse(conn: SseConnection, chunk: string, frames = 1): boolean {
    const limit = this.config.slowClientBytes;
    if (conn.congestedBytes > limit) {
      if (this.config.slowClientPolicy === 'close' || conn.congestedBytes > 2 * limit) {
        this.slow(conn);
        return false;
      }
      let drained = false;
      conn.res.cork(() => {
        drained = conn.res.write(':\n\n');
      });
      if (!drained) {
        conn.congestedBytes += 3;
        this.metrics.backpressure.inc({ transport: 'sse', action: 'drop' }, frames);
        return false;
      }
      conn.congestedBytes = 0;
    }
    let took = false;
    conn.res.cork(() => {
      took = conn.res.write(chunk);
    });
    conn.congestedBytes = took ? 0 : conn.congestedBytes + Buffer.byteLength(chunk);
    if (conn.congestedBytes > limit && this.config.slowClientPolicy === 'close') this.slow(conn);
    return true;
  }

  private writeWs(conn: WsConnection, text: string): boolean {
    this.flushPublishes();
    if (conn.ws.getBufferedAmount() > this.config.slowClientBytes) {
      if (this.config.slowClientPolicy === 'close') this.slow(conn);
      else this.metrics.backpressure.inc({ transport: 'ws', action: 'drop' });
      return false;
    }
    let status = 0;
    conn.ws.cork(() => {
      status = conn.ws.send(text);
    });
    // 2: uWebSockets.js dropped it at its own limit (ours, so not after the check above) and told
    // `dropped`, which counts it.
    return status !== 2;
  }

  private slow(conn: Connection): void {
    this.metrics.backpressure.inc({ transport: conn.kind, action: 'close' });
    this.log.debug('slow client closed', { connection: conn.id, transport: conn.kind });
    this.close(conn, 'force', 'slow-client');
  }
}
