/**
 * A fault-measurement viewer (prod/reliable-viewer.ts' `FaultViewer`) that is the client library
 * (client/), as an application uses it: `createClient` with the datacenter's frontends as its
 * urls (starting at `first`), its transport and topics; what it hands the application is what is
 * recorded and judged, after its own dedupe, reordering and resume. So a duplicate or an
 * inversion counted here reached the application.
 *
 * What the library does not tell an application is read as an application could:
 * - Joins: the library says nothing of `subscribed`; once a connection opens, its `cursor()` is
 *   polled (every `joinPollMs`) until it names every topic, and each topic's first appearance is
 *   recorded as its join, at the cursor's position if nothing of the topic had arrived yet (a
 *   fresh subscription's cursor is its join position), else without one. Recorded a little late,
 *   a join can only make the judge owe less, never invent a loss.
 * - Connections: `open` opens one (its frontend unknown: the library takes its urls in turn),
 *   `reconnecting` after `open` ends it, `reconnecting` otherwise is a failed attempt.
 * Backoff is {100 ms, 2 s} rather than the library's {500 ms, 30 s}, so a datacenter restarted
 * within a measurement's seconds is rejoined within them. WebSocket on Node 20 uses
 * prod/node-websocket.ts. The library cannot be made to drop its connection, so it has no `bounce`.
 */
import { createClient } from '../client/index.ts';
import { decodeCursors } from '../core/index.ts';
import { NodeWebSocket } from './node-websocket.ts';
import type { FaultViewer, ViewerLog, ViewerSpec } from './reliable-viewer.ts';
import { wireViewerLimits } from './reliable-viewer.ts';

export const clientViewerLimits = {
  joinPollMs: 10,
  backoff: { initialMs: 100, maxMs: 2_000 },
  firstConnectionMsMax: wireViewerLimits.firstConnectionMsMax,
};

export function clientViewer(spec: ViewerSpec, limits = clientViewerLimits): Promise<FaultViewer> {
  const log: ViewerLog = {
    events: [],
    joins: [],
    gaps: [],
    notices: [],
    connections: [],
    failedAttempts: [],
    failedAttemptsTotal: 0,
  };
  const urls = spec.frontends.map((_, i) => spec.frontends[(spec.first + i) % spec.frontends.length]!);
  const client = createClient<unknown>({
    url: urls,
    transport: spec.transport,
    topics: spec.topics,
    backoff: limits.backoff,
    WebSocket: NodeWebSocket,
  });
  let arrivals = 0;
  let closedAt: number | null = null;
  let open = false;
  const joined = new Set<string>();
  const received = new Set<string>();
  let poll: NodeJS.Timeout | null = null;
  let firstJoined: (() => void) | null = null;

  const current = (): number => log.connections.length - 1;
  client.on('event', (event) => {
    received.add(event.topic);
    log.events.push({
      n: arrivals++,
      id: event.id,
      topic: event.topic,
      position: event.position ?? null,
      atMs: Date.now(),
      connection: current(),
    });
  });
  client.on('gap', (gap) => {
    const atMs = Date.now();
    const { message: _message, ...rest } = gap;
    log.gaps.push({ n: arrivals++, gap: rest, atMs, connection: current() });
    log.notices.push({ code: 'gap', atMs });
  });
  client.on('notice', (notice) => log.notices.push({ code: notice.code, atMs: Date.now() }));
  client.on('state', (state, detail) => {
    const atMs = Date.now();
    if (state === 'open') {
      open = true;
      log.connections.push({ frontend: '(client library)', openedAtMs: atMs, endedAtMs: null, reason: null });
      pollJoins();
    } else if (state === 'reconnecting') {
      const last = log.connections.at(-1);
      if (open && last !== undefined) {
        last.endedAtMs = atMs;
        last.reason = detail.reason ?? 'lost';
      } else {
        log.failedAttemptsTotal++;
        log.failedAttempts.push({ frontend: '(client library)', atMs, reason: detail.reason ?? 'refused' });
        if (log.failedAttempts.length > wireViewerLimits.failedAttemptsKept) log.failedAttempts.shift();
      }
      open = false;
    }
  });

  const pollJoins = (): void => {
    if (poll !== null || joined.size === spec.topics.length) return;
    poll = setInterval(() => {
      const text = client.cursor();
      const decoded = text === null ? null : decodeCursors(text);
      if (decoded?.ok === true) {
        for (const cursor of decoded.cursors) {
          if (joined.has(cursor.topic) || !spec.topics.includes(cursor.topic)) continue;
          joined.add(cursor.topic);
          log.joins.push({
            n: arrivals++,
            topic: cursor.topic,
            position: received.has(cursor.topic)
              ? null
              : { dc: cursor.dc, epoch: cursor.epoch, seq: cursor.seq },
            atMs: Date.now(),
            connection: current(),
          });
        }
      }
      if (joined.size === spec.topics.length || closedAt !== null) {
        clearInterval(poll!);
        poll = null;
        firstJoined?.();
      }
    }, limits.joinPollMs);
  };

  const viewer: FaultViewer = {
    spec,
    log,
    closedAtMs: () => closedAt,
    connected: () => open,
    close() {
      if (closedAt !== null) return;
      closedAt = Date.now();
      if (poll !== null) clearInterval(poll);
      client.close();
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      viewer.close();
      const last = log.failedAttempts.at(-1);
      reject(
        new Error(
          `${spec.name}: not joined within ${limits.firstConnectionMsMax} ms${last === undefined ? '' : ` (last attempt: ${last.reason})`}`,
        ),
      );
    }, limits.firstConnectionMsMax);
    firstJoined = () => {
      firstJoined = null;
      clearTimeout(timer);
      resolve(viewer);
    };
  });
}
