/**
 * The client: one connection to a frontend for many topics, kept open across losses, resuming from
 * where the application stands so that, against a reliable server, it sees every event once and in
 * order per topic, or is told which it will not see.
 *
 * Theory of operation
 * - One link at a time (prod/ has one `Link` per connection attempt, see transports.ts). Topics
 *   change with `subscribe`/`unsubscribe`; changes made in one turn of the event loop are applied
 *   together: over WebSocket as `subscribe`/`unsubscribe` messages, over SSE by reconnecting at once
 *   with the new topic set (an SSE stream's topics are fixed by its URL) and the cursor.
 * - Each (re)connect asks for a token (a string, or a function called each time, so it can fetch a
 *   fresh one), and resumes from the cursor (delivery.ts): `?lastEventId=` for SSE, a `resume`
 *   message for WebSocket. Topics with no cursor start from now.
 * - A lost link is retried after a backoff with full jitter (backoff.ts); the attempt count resets
 *   once a link has stayed open `stableOpenMs`. A `token-expired` from the server reconnects at
 *   once with a fresh token, or ends the client when its token is a fixed string (the same token
 *   would be refused again).
 * - A link silent for `idleTimeoutMs` (no event, heartbeat comment or pong) is taken for dead and
 *   replaced; a silent WebSocket is pinged first. With several `url`s, each attempt after a loss
 *   goes to the next, so a dead frontend's viewers move to another one of its datacenter.
 * - States: `connecting` (before the first open), `open`, `reconnecting` (a link was lost or
 *   refused; the next attempt is scheduled), `closed` (by `close()`, or for good). Each change is
 *   told once, with its detail.
 * - Viewer counts: a topic subscribed with `occupancy` (or every topic, with the client option)
 *   asks the server for its count. Over WebSocket the ask rides on the topic's `subscribe` or
 *   `resume` (a topic joined already is subscribed again with it); an SSE stream asks for all its
 *   topics at once (`occupancy=1`), so one is opened anew when a topic asks and the stream did
 *   not, and counts of topics that did not ask are dropped here. Only asked-for topics' counts
 *   reach the application; the latest of each is kept until it is unsubscribed.
 */
import { cursorTopicsMax } from '../core/cursor.ts';
import { topicError } from '../core/validation.ts';
import { backoffDelayMs, backoffError, defaultBackoff, stableOpenMs } from './backoff.ts';
import type { Backoff } from './backoff.ts';
import { Delivery, reorderWaitMsDefault } from './delivery.ts';
import type { Timers } from './delivery.ts';
import { openSseLink, openWsLink } from './transports.ts';
import type { FetchFunction, Link, LinkEnd, WebSocketConstructor } from './transports.ts';
import type { EventPosition, Frame, GapNotice, Occupancy, WireNotice } from './wire.ts';

/** An event as the application receives it; `payload` is the JSON value published. */
export interface Event<T = unknown> {
  id: string;
  topic: string;
  payload: T;
  publishedAtMs: number;
  /** The datacenter that accepted the publish. */
  origin: string;
  /** Reliable servers only: where the event stands in its datacenter's history of the topic. */
  position?: EventPosition;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateDetail {
  /** Reconnect attempts since the last stable connection (0 for the first). */
  attempt: number;
  /** `reconnecting`: the wait before the next attempt. */
  delayMs?: number;
  /** Why the previous link ended, or why the client closed. */
  reason?: string;
}

export interface ClientError {
  /** The server's error code (`token-expired`, `forbidden`, `bad-topic`...) or the client's own. */
  code: string;
  message: string;
  /** The HTTP status (or the status a WebSocket error mirrors), when the server gave one. */
  status?: number;
}

export interface ClientListeners<T> {
  event: (event: Event<T>) => void;
  /** The server says events of a topic will never arrive (reliable mode): which, and why. */
  gap: (gap: GapNotice) => void;
  state: (state: ConnectionState, detail: StateDetail) => void;
  error: (error: ClientError) => void;
  /** Any other notice of the server (`registration-lapsed`, `history-unavailable`, `occupancy-off`...). */
  notice: (notice: WireNotice) => void;
  /** A topic that asked for its viewer count has a new one: `{topic, count, byDc, stale}`. */
  occupancy: (occupancy: Occupancy) => void;
}

export interface SubscribeOptions {
  /** Also receive the topic's viewer count (`occupancy` listeners), at most once per server interval. */
  occupancy?: boolean;
}

export interface ClientOptions {
  /**
   * The server's base URL (`https://rt.example.com`); in a browser, the page's origin by default.
   * Several: frontends to take in turn, the next one after each lost or refused link.
   */
  url?: string | readonly string[];
  /** `sse` (default) or `ws`. */
  transport?: 'sse' | 'ws';
  /** Topics to subscribe to from the start. */
  topics?: readonly string[];
  /** Every topic asks for its viewer count, as `subscribe(topic, { occupancy: true })` does. */
  occupancy?: boolean;
  /** A subscribe token (JWT), or a function giving one, called before every (re)connect. */
  token?: string | (() => string | Promise<string>);
  /** Reconnect waits: full jitter in [0, min(maxMs, initialMs * 2^attempt)]. */
  backoff?: Partial<Backoff>;
  /** Resume from here: a cursor text or event id an earlier `cursor()` gave. */
  cursor?: string | null;
  /** How long an event waits for earlier seqs of its topic. */
  reorderWaitMs?: number;
  /**
   * A link silent this long is taken for dead and replaced (a frozen frontend, a half-open TCP
   * connection). SSE servers send a heartbeat every 15 s by default; over WebSocket the client
   * pings. Keep it above twice the server's `--heartbeat-ms`. 0: never.
   */
  idleTimeoutMs?: number;
  /** Constructors and functions to use instead of the globals (Node 20 has no WebSocket). */
  WebSocket?: WebSocketConstructor;
  fetch?: FetchFunction;
  /** A number in [0, 1): the backoff's jitter. */
  random?: () => number;
  timers?: Timers;
}

export interface Client<T> {
  /** `options.occupancy`: the topic asks for its viewer count too (a topic subscribed already starts to). */
  subscribe(topic: string, options?: SubscribeOptions): void;
  unsubscribe(topic: string): void;
  /** The topic's latest viewer count, or null before one came (or when it did not ask for them). */
  occupancy(topic: string): Occupancy | null;
  /** Listen; returns a function that stops listening. */
  on<K extends keyof ClientListeners<T>>(name: K, listener: ClientListeners<T>[K]): () => void;
  /** Where the application stands: persist it (localStorage) and pass it as `cursor` to resume. */
  cursor(): string | null;
  state(): ConnectionState;
  topics(): string[];
  /** Close for good. */
  close(): void;
}

/** Defaults that exist only in browsers (or Node 22): looked up when needed, never at import. */
const globals = globalThis as unknown as {
  WebSocket?: WebSocketConstructor;
  fetch?: FetchFunction;
  location?: { origin: string };
};

export function createClient<T = unknown>(options: ClientOptions = {}): Client<T> {
  return new StadiumClient<T>(options);
}

/** The default of `idleTimeoutMs`: three of the server's default SSE heartbeats (15 s). */
export const idleTimeoutMsDefault = 45_000;
/** The idle check runs this many times per `idleTimeoutMs` (and pings a silent WebSocket each time). */
const idleChecks = 3;

class StadiumClient<T> implements Client<T> {
  private readonly bases: string[];
  private baseIndex = 0;
  private readonly idleTimeoutMs: number;
  private idleTimer: unknown = null;
  private silentChecks = 0;
  private readonly transport: 'sse' | 'ws';
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly timers: Timers;
  private readonly delivery: Delivery;
  private readonly listeners: { [K in keyof ClientListeners<T>]: Set<ClientListeners<T>[K]> } = {
    event: new Set(),
    gap: new Set(),
    state: new Set(),
    error: new Set(),
    notice: new Set(),
    occupancy: new Set(),
  };
  private readonly wanted = new Set<string>();
  /** Wanted topics that ask for their viewer counts, and the latest count of each. */
  private readonly watching = new Map<string, Occupancy | null>();
  /** Topics the current link asked counts for (WebSocket); for SSE, whether its stream did. */
  private linkWatching = new Set<string>();
  private linkOccupancy = false;
  /** null until the first state is announced (listeners come after createClient returns). */
  private current: ConnectionState | null = null;
  private link: Link | null = null;
  private linkOpen = false;
  /** The topics the current link was asked for. */
  private linkTopics = new Set<string>();
  /** Topics whose `subscribed` will answer a resume (their cursor stands). */
  private resumed = new Set<string>();
  private attempt = 0;
  private everOpened = false;
  private tokenExpired = false;
  private closed = false;
  /** Bumped by every connect: a token that arrives for an older one is dropped. */
  private generation = 0;
  private retryTimer: unknown = null;
  private retryPending = false;
  private stableTimer: unknown = null;
  private syncQueued = false;
  private connecting = false;

  constructor(private readonly options: ClientOptions) {
    const url = options.url ?? globals.location?.origin;
    if (url === undefined) throw new TypeError('createClient: give `url`, the server base URL');
    this.bases = (typeof url === 'string' ? [url] : [...url]).map((base) => {
      if (typeof base !== 'string' || !/^(https?|wss?):\/\//.test(base))
        throw new TypeError(`createClient: url must be an http(s) or ws(s) URL, not ${JSON.stringify(base)}`);
      return base.replace(/\/+$/, '');
    });
    if (this.bases.length === 0) throw new TypeError('createClient: url names no server');
    this.idleTimeoutMs = options.idleTimeoutMs ?? idleTimeoutMsDefault;
    if (!(Number.isFinite(this.idleTimeoutMs) && this.idleTimeoutMs >= 0))
      throw new RangeError(
        `createClient: idleTimeoutMs must be a number of ms, 0 or more, not ${this.idleTimeoutMs}`,
      );
    this.transport = options.transport ?? 'sse';
    if (this.transport !== 'sse' && this.transport !== 'ws')
      throw new TypeError(`createClient: transport is 'sse' or 'ws', not ${JSON.stringify(this.transport)}`);
    this.backoff = { ...defaultBackoff, ...options.backoff };
    const problem = backoffError(this.backoff);
    if (problem !== null) throw new RangeError(`createClient: ${problem}`);
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? {
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    this.delivery = new Delivery(
      (event) => this.emit('event', event as Event<T>),
      (topic) => this.wanted.has(topic),
      this.timers,
      options.reorderWaitMs ?? reorderWaitMsDefault,
    );
    for (const topic of options.topics ?? []) this.addTopic(topic, options.occupancy === true);
    if (options.cursor !== undefined && options.cursor !== null) {
      const error = this.delivery.restore(options.cursor);
      // A cursor from the application's storage may be damaged: start from now, and say so.
      if (error !== null)
        queueMicrotask(() => this.emit('error', { code: 'bad-cursor', message: `cursor ignored: ${error}` }));
    }
    this.queueSync();
  }

  subscribe(topic: string, options: SubscribeOptions = {}): void {
    this.assertOpen('subscribe');
    const occupancy = options.occupancy === true || this.options.occupancy === true;
    if (this.wanted.has(topic)) {
      if (!occupancy || this.watching.has(topic)) return;
      this.watching.set(topic, null);
    } else this.addTopic(topic, occupancy);
    this.queueSync();
  }

  unsubscribe(topic: string): void {
    this.assertOpen('unsubscribe');
    if (!this.wanted.delete(topic)) return;
    this.watching.delete(topic);
    this.delivery.left(topic);
    this.queueSync();
  }

  occupancy(topic: string): Occupancy | null {
    return this.watching.get(topic) ?? null;
  }

  on<K extends keyof ClientListeners<T>>(name: K, listener: ClientListeners<T>[K]): () => void {
    const set = this.listeners[name] as Set<ClientListeners<T>[K]>;
    if (set === undefined) throw new TypeError(`on: no such event ${JSON.stringify(name)}`);
    set.add(listener);
    return () => set.delete(listener);
  }

  cursor(): string | null {
    return this.delivery.cursorFor(this.wanted)?.text ?? null;
  }

  state(): ConnectionState {
    return this.current ?? 'connecting';
  }

  topics(): string[] {
    return [...this.wanted];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timers.clearTimeout(this.retryTimer);
    this.timers.clearTimeout(this.stableTimer);
    this.timers.clearTimeout(this.idleTimer);
    this.dropLink();
    this.setState('closed', { attempt: this.attempt, reason: 'closed by the application' });
  }

  private addTopic(topic: string, occupancy: boolean): void {
    const problem = topicError(topic);
    if (problem !== null) throw new TypeError(`subscribe: ${problem}`);
    if (this.wanted.size >= cursorTopicsMax)
      throw new RangeError(`subscribe: a connection holds at most ${cursorTopicsMax} topics`);
    this.wanted.add(topic);
    if (occupancy) this.watching.set(topic, null);
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new Error(`${what}: the client is closed`);
  }

  /** Apply topic changes once this turn of the event loop is over (and connect the first time). */
  private queueSync(): void {
    if (this.syncQueued) return;
    this.syncQueued = true;
    queueMicrotask(() => {
      this.syncQueued = false;
      this.sync();
    });
  }

  private sync(): void {
    if (this.closed || this.connecting || this.retryPending) return;
    if (this.link === null) return void this.connect();
    if (!this.linkOpen) return; // The open applies what is wanted by then.
    const added = [...this.wanted].filter((topic) => !this.linkTopics.has(topic));
    const removed = [...this.linkTopics].filter((topic) => !this.wanted.has(topic));
    // Topics on the link that now ask for counts, and the link did not ask for them.
    const watched = [...this.linkTopics].filter(
      (topic) => this.watching.has(topic) && !this.linkWatching.has(topic) && this.wanted.has(topic),
    );
    if (this.link.transport === 'sse') {
      const unasked = !this.linkOccupancy && this.watching.size > 0;
      if (added.length === 0 && removed.length === 0 && !unasked) return;
      // An SSE stream's topics are in its URL: a new stream, resuming from the cursor, at once.
      this.dropLink();
      return void this.connect();
    }
    for (const topic of removed) {
      this.linkTopics.delete(topic);
      this.linkWatching.delete(topic);
    }
    if (removed.length > 0) this.link.send({ type: 'unsubscribe', topics: removed });
    for (const topic of added) this.linkTopics.add(topic);
    if (added.length > 0) this.joinOverWs(this.link, added, false);
    if (watched.length > 0) {
      // Joined already: a subscribe again with the ask starts the counts, and changes nothing else.
      for (const topic of watched) this.linkWatching.add(topic);
      this.link.send({ type: 'subscribe', topics: watched, occupancy: true });
    }
  }

  /**
   * Subscribe `topics` over a WebSocket, resuming those the cursor covers; the topics that ask for
   * viewer counts in a message of their own, which asks.
   */
  private joinOverWs(link: Link, topics: string[], withEventId: boolean): void {
    const asking = topics.filter((topic) => this.watching.has(topic));
    const others = topics.filter((topic) => !this.watching.has(topic));
    for (const [group, occupancy] of [
      [asking, true],
      [others, false],
    ] as const) {
      if (group.length === 0) continue;
      const ask = occupancy ? { occupancy: true } : {};
      if (occupancy) for (const topic of group) this.linkWatching.add(topic);
      const cursor = this.delivery.cursorFor(group);
      if (cursor !== null && cursor.topics.length > 0) {
        for (const topic of cursor.topics) this.resumed.add(topic);
        link.send({ type: 'resume', topics: group, cursor: cursor.text, ...ask });
      } else if (cursor !== null && withEventId) {
        link.send({ type: 'resume', topics: group, lastEventId: cursor.text, ...ask });
      } else {
        link.send({ type: 'subscribe', topics: group, ...ask });
      }
    }
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    if (this.transport === 'sse' && this.wanted.size === 0) {
      // Nothing to stream: the next subscribe connects.
      if (this.current === 'open') this.setState('connecting', { attempt: 0, reason: 'no topics' });
      return;
    }
    const generation = ++this.generation;
    this.connecting = true;
    if (!this.everOpened && this.attempt === 0) this.setState('connecting', { attempt: 0 });
    let token: string | null = null;
    try {
      const supply = this.options.token;
      token = supply === undefined ? null : typeof supply === 'string' ? supply : await supply();
      if (token !== null && (typeof token !== 'string' || token === ''))
        throw new TypeError('the token function must give a non-empty string');
    } catch (error) {
      this.connecting = false;
      if (generation !== this.generation || this.closed) return;
      const message = error instanceof Error ? error.message : String(error);
      this.emit('error', { code: 'token-unavailable', message: `no token: ${message}` });
      return this.retry(`no token: ${message}`);
    }
    this.connecting = false;
    if (generation !== this.generation || this.closed) return;
    this.tokenExpired = false;
    const topics = [...this.wanted];
    this.linkTopics = new Set(topics);
    this.linkWatching = new Set();
    this.resumed = new Set();
    this.linkOpen = false;
    let link: Link;
    const handlers = {
      open: (): void => this.onOpen(link),
      frame: (frame: Frame): void => {
        if (link === this.link) this.onFrame(frame);
      },
      activity: (): void => {
        this.silentChecks = 0;
      },
      closed: (end: LinkEnd): void => this.onClosed(link, end),
    };
    try {
      link = this.openLink(topics, token, handlers);
    } catch (error) {
      // A constructor missing or refusing the URL: the application's mistake, told and retried.
      const message = error instanceof Error ? error.message : String(error);
      this.emit('error', { code: 'cannot-connect', message });
      return this.retry(message);
    }
    this.link = link;
  }

  private openLink(
    topics: string[],
    token: string | null,
    handlers: { open(): void; frame(frame: Frame): void; activity(): void; closed(end: LinkEnd): void },
  ): Link {
    const base = this.bases[this.baseIndex % this.bases.length] as string;
    if (this.transport === 'sse') {
      const query = new URLSearchParams();
      for (const topic of topics) query.append('topic', topic);
      // A stream asks for all its topics' counts or none: those that did not ask are dropped here.
      this.linkOccupancy = topics.some((topic) => this.watching.has(topic));
      if (this.linkOccupancy) query.set('occupancy', '1');
      const cursor = this.delivery.cursorFor(topics);
      if (cursor !== null) {
        query.set('lastEventId', cursor.text);
        for (const topic of cursor.topics) this.resumed.add(topic);
      }
      if (token !== null) query.set('token', token);
      const fetchFn = this.options.fetch ?? globals.fetch?.bind(globalThis);
      if (fetchFn === undefined) throw new TypeError('no fetch here: pass options.fetch');
      return openSseLink(`${base}/v1/stream?${query}`, fetchFn, handlers);
    }
    const WebSocketCtor = this.options.WebSocket ?? globals.WebSocket;
    if (WebSocketCtor === undefined)
      throw new TypeError('no WebSocket here (Node 20): pass options.WebSocket');
    const query = token === null ? '' : `?${new URLSearchParams({ token })}`;
    return openWsLink(`${base.replace(/^http/, 'ws')}/v1/ws${query}`, WebSocketCtor, handlers);
  }

  private onOpen(link: Link): void {
    if (link !== this.link || this.closed) return;
    this.linkOpen = true;
    this.everOpened = true;
    this.timers.clearTimeout(this.stableTimer);
    this.stableTimer = this.timers.setTimeout(() => {
      this.stableTimer = null;
      this.attempt = 0;
    }, stableOpenMs);
    this.armIdleCheck(link);
    if (link.transport === 'ws' && this.linkTopics.size > 0)
      this.joinOverWs(link, [...this.linkTopics], true);
    this.setState('open', { attempt: this.attempt });
    this.sync();
  }

  /** Every `idleTimeoutMs / idleChecks`: ping a silent WebSocket; drop a link silent `idleTimeoutMs`. */
  private armIdleCheck(link: Link): void {
    this.timers.clearTimeout(this.idleTimer);
    this.silentChecks = 0;
    if (this.idleTimeoutMs === 0) return;
    const check = (): void => {
      if (link !== this.link || this.closed) return;
      if (++this.silentChecks >= idleChecks) {
        const reason = `nothing heard for ${this.idleTimeoutMs} ms`;
        this.onClosed(link, { reason });
        return link.close();
      }
      if (link.transport === 'ws') link.send({ type: 'ping' });
      this.idleTimer = this.timers.setTimeout(check, this.idleTimeoutMs / idleChecks);
    };
    this.idleTimer = this.timers.setTimeout(check, this.idleTimeoutMs / idleChecks);
  }

  private onFrame(frame: Frame): void {
    switch (frame.kind) {
      case 'event':
        return this.delivery.receive(frame.event);
      case 'subscribed': {
        const resumed = this.resumed.delete(frame.topic);
        if (this.wanted.has(frame.topic)) this.delivery.joined(frame.topic, frame.position, resumed);
        return;
      }
      case 'notice': {
        const { notice } = frame;
        if (notice.code === 'gap' && notice.gap !== undefined) {
          this.delivery.gap(notice.gap.topic);
          return this.emit('gap', { ...notice.gap, message: notice.message });
        }
        if (notice.code === 'token-expired') {
          this.tokenExpired = true;
          return this.emit('error', { code: notice.code, message: notice.message });
        }
        return this.emit('notice', notice);
      }
      case 'occupancy': {
        const { occupancy } = frame;
        if (!this.watching.has(occupancy.topic)) return;
        this.watching.set(occupancy.topic, occupancy);
        return this.emit('occupancy', occupancy);
      }
      case 'error':
        if (frame.code === 'token-expired') this.tokenExpired = true;
        return this.emit('error', { code: frame.code, message: frame.message, status: frame.status });
      case 'malformed':
        return this.emit('error', { code: 'malformed', message: frame.why });
      case 'ignored':
        return;
    }
  }

  private onClosed(link: Link, end: LinkEnd): void {
    if (link !== this.link || this.closed) return;
    this.link = null;
    this.linkOpen = false;
    this.timers.clearTimeout(this.stableTimer);
    this.timers.clearTimeout(this.idleTimer);
    this.stableTimer = null;
    this.delivery.lost();
    // The next attempt goes to the next server, if there are several.
    this.baseIndex++;
    if (end.status !== undefined)
      this.emit('error', { code: end.code ?? 'http-error', message: end.reason, status: end.status });
    const expired = this.tokenExpired || end.code === 'token-expired';
    if (expired && typeof this.options.token !== 'function') {
      // The same token would be refused again: only the application can give a fresh one.
      this.closed = true;
      return this.setState('closed', { attempt: this.attempt, reason: `token expired: ${end.reason}` });
    }
    this.retry(end.reason, expired);
  }

  /** Schedule the next attempt: at once for a fresh token, otherwise after the backoff. */
  private retry(reason: string, fresh = false): void {
    const delayMs = fresh ? 0 : backoffDelayMs(this.attempt, this.backoff, this.random);
    if (!fresh) this.attempt++;
    this.setState('reconnecting', { attempt: this.attempt, delayMs, reason });
    this.retryPending = true;
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryPending = false;
      void this.connect();
    }, delayMs);
  }

  private dropLink(): void {
    const link = this.link;
    this.link = null;
    this.linkOpen = false;
    this.timers.clearTimeout(this.idleTimer);
    link?.close();
    this.delivery.lost();
  }

  private setState(state: ConnectionState, detail: StateDetail): void {
    if (state === this.current && state !== 'reconnecting') return;
    this.current = state;
    this.emit('state', state, detail);
  }

  private emit<K extends keyof ClientListeners<T>>(
    name: K,
    ...args: Parameters<ClientListeners<T>[K]>
  ): void {
    for (const listener of [...this.listeners[name]]) {
      try {
        (listener as (...a: Parameters<ClientListeners<T>[K]>) => void)(...args);
      } catch (error) {
        // The application's listener failed: report it as the platform would, and go on.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
