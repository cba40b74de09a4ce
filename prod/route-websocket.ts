/**
 * `/v1/ws`: a WebSocket, one JSON object per message (subscribe, unsubscribe, resume, publish,
 * refresh, ping). A `subscribe` or `resume` with `"occupancy": true` also gets the topics' viewer
 * counts (`{"type":"occupancy",...}`, prod/wire.ts).
 *
 * Theory of operation
 * - The upgrade is always synchronous, inside uWebSockets.js' handler: upgrading later, after an
 *   await, sometimes closes the new socket at once (uWebSockets issue #1108, fixed upstream in
 *   uWebSockets PR #1929 but not in this build). So with `--jwt-secret` only a missing token is
 *   refused before the upgrade (`401`); the token is verified right after it.
 * - Until that verdict the socket's messages are held, in order, at most `heldMessagesMax` (past
 *   it a message is answered `429 too-early`). A bad token gets an error and the socket closes
 *   (1008) with nothing done; a good one replays what was held, then messages are handled as they
 *   come.
 * - Every bad message gets one `error` (status and code as over HTTP) and the socket stays open.
 *   A message over the limit (`--payload-limit` + 4 KiB) gets `413`; one over twice that is cut off
 *   by uWebSockets.js, which closes the socket (1009).
 * - `resume` takes a plain `lastEventId` or (reliable mode) a `cursor` text: each topic resumes
 *   from its cursor; a cursor that does not decode gets `400 bad-cursor` and nothing is joined.
 * - `refresh` replaces the token, and the connection's expiry, if the fresh one is valid and allows
 *   every topic the connection is on; otherwise the old one stands.
 * - The slow-client limit is uWebSockets.js' own backpressure limit: its pub/sub skips frames past
 *   it and says so in `dropped`, where prod/clients.ts applies the policy.
 */
import type { ConnectionId, Topic } from '../core/index.ts';
import { unreachable } from '../core/index.ts';
import { checkPublishToken, grantError, openGrant, subscribeGrant, subscribeTokenMissing } from './auth.ts';
import type { TopicGrant } from './auth.ts';
import type { ViewerParts } from './client-inputs.ts';
import type { WsConnection, WsData } from './clients.ts';
import { exchange } from './http-reply.ts';
import { bearerToken, httpError, isHttpError, parseClientMessage } from './http-input.ts';
import type { HttpError } from './http-input.ts';
import type { HttpRoutes } from './http-routes.ts';
import type { Metrics } from './metrics.ts';
import { viewerHeader } from './recorder.ts';
import { wsError } from './wire.ts';

/** Messages a WebSocket may send before the verdict on its token; past it they are refused. */
const heldMessagesMax = 64;

export class WebSocketRoute {
  /** The largest WebSocket message worth reading: a payload at the limit, and an envelope. */
  private readonly messageBytesMax: number;

  constructor(
    private readonly http: HttpRoutes,
    private readonly viewers: ViewerParts,
    private readonly metrics: Metrics,
    /** The topics the frontend holds for a connection. */
    private readonly topicsOf: (id: ConnectionId) => Iterable<Topic>,
  ) {
    this.messageBytesMax = http.config.payloadLimitBytes + 4_096;
  }

  route(): void {
    const { http } = this;
    const { clients, inputs, jwtKey } = this.viewers;
    http.allowed.set('/v1/ws', 'GET');
    http.app.ws<WsData>('/v1/ws', {
      // Frames up to twice the message limit get a JSON error; larger ones close the socket (1009).
      maxPayloadLength: this.messageBytesMax * 2,
      // The slow-client limit itself: uWebSockets.js' pub/sub skips frames past it and says so in
      // `dropped`, where the policy is applied (see prod/clients.ts).
      maxBackpressure: http.config.slowClientBytes,
      closeOnBackpressureLimit: false,
      dropped: (ws) => clients.dropped(ws.getUserData().id),
      idleTimeout: 120,
      sendPingsAutomatically: true,
      // Synchronous, always (uWebSockets issue #1108, above): the token is verified after it.
      upgrade: (res, req, context) => {
        const ex = exchange(res);
        const token =
          new URLSearchParams(req.getQuery()).get('token') ?? bearerToken(req.getHeader('authorization'));
        if (http.refusedForShutdown(ex)) return;
        const missing = jwtKey === null ? null : subscribeTokenMissing(token);
        if (missing !== null) return http.fail(ex, missing);
        const data: WsData = {
          id: inputs.newConnectionId(),
          grant: jwtKey === null ? openGrant : null,
          viewer: req.getHeader(viewerHeader),
        };
        ex.answered = true;
        res.upgrade<WsData>(
          data,
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
        if (jwtKey !== null) {
          void subscribeGrant(jwtKey, token).then((grant) => this.onVerdict(data.id, grant));
        }
      },
      open: (ws) => {
        const conn = clients.openWs(ws);
        inputs.act(conn.id, { type: 'connect' });
      },
      message: (ws, message) => {
        const conn = clients.get(ws.getUserData().id);
        if (conn === undefined || conn.kind !== 'ws' || !conn.open) return;
        if (conn.grant === null) {
          if (conn.held.length >= heldMessagesMax) {
            return this.refuse(conn, httpError(429, 'too-early', 'wait for the token to be checked'));
          }
          // uWebSockets.js reuses the message's memory after this callback returns: copy it.
          conn.held.push(message.slice(0));
          return;
        }
        this.onMessage(conn, conn.grant, message);
      },
      close: (ws) => clients.lost(ws.getUserData().id),
    });
  }

  /** The token of a WebSocket is checked: refuse and close, or handle what it sent meanwhile. */
  private onVerdict(id: ConnectionId, grant: TopicGrant | HttpError): void {
    const { clients, expiry } = this.viewers;
    const conn = clients.get(id);
    if (conn === undefined || conn.kind !== 'ws' || !conn.open) return;
    if (isHttpError(grant)) {
      this.refuse(conn, grant);
      clients.close(conn, 'end', grant.code);
      return;
    }
    conn.grant = grant;
    expiry.set(conn.id, grant.expiresAtMs);
    for (const message of conn.held.splice(0)) {
      if (!conn.open) return;
      this.onMessage(conn, grant, message);
    }
  }

  private onMessage(conn: WsConnection, grant: TopicGrant, data: ArrayBuffer): void {
    const { clients, inputs, jwtKey } = this.viewers;
    if (data.byteLength > this.messageBytesMax) {
      return this.refuse(
        conn,
        httpError(
          413,
          'payload-too-large',
          `message of ${data.byteLength} bytes is over the ${this.messageBytesMax}-byte limit`,
        ),
      );
    }
    const message = parseClientMessage(
      Buffer.from(data).toString('utf8'),
      this.http.config.topicsPerConnectionMax,
    );
    if (isHttpError(message)) return this.refuse(conn, message);
    switch (message.type) {
      case 'subscribe':
      case 'resume': {
        const denied = grantError(grant, message.topics);
        if (denied !== null) return this.refuse(conn, denied);
        if (message.type === 'resume')
          inputs.join(conn.id, message.topics, message.lastEventId, message.cursors, message.occupancy);
        else inputs.join(conn.id, message.topics, null, undefined, message.occupancy);
        return;
      }
      case 'unsubscribe':
        for (const topic of message.topics) inputs.act(conn.id, { type: 'unsubscribe', topic });
        return;
      case 'publish': {
        // The publish token guards every way in, not only POST /v1/publish.
        const denied = checkPublishToken(this.http.config.publishToken, message.token);
        if (denied !== null) return this.refuse(conn, denied);
        inputs.act(conn.id, { type: 'publish', topic: message.topic, payload: message.payload });
        return;
      }
      case 'refresh':
        void subscribeGrant(jwtKey, message.token).then((fresh) => this.onRefresh(conn, fresh));
        return;
      case 'ping':
        clients.send(conn, JSON.stringify({ type: 'pong' }));
        return;
      default:
        unreachable(message);
    }
  }

  /** One `error` message for what the client sent (counted by its code); the socket stays open. */
  private refuse(conn: WsConnection, error: HttpError): void {
    this.metrics.httpErrors.inc({ code: error.code });
    this.viewers.clients.send(conn, wsError(error.status, error.code, error.message));
  }

  /**
   * A WebSocket sent a fresh subscribe token: it replaces the grant (and the connection's expiry)
   * if it is valid and allows every topic the connection is on; otherwise the old one stands.
   */
  private onRefresh(conn: WsConnection, fresh: TopicGrant | HttpError): void {
    const { clients, expiry, jwtKey } = this.viewers;
    if (!conn.open) return;
    if (jwtKey === null)
      return this.refuse(conn, httpError(400, 'bad-request', 'this server takes no subscribe tokens'));
    if (isHttpError(fresh)) return this.refuse(conn, fresh);
    const denied = grantError(fresh, [...this.topicsOf(conn.id)]);
    if (denied !== null) {
      return this.refuse(
        conn,
        httpError(403, 'forbidden', `${denied.message}, which this connection is on: unsubscribe first`),
      );
    }
    conn.grant = fresh;
    expiry.set(conn.id, fresh.expiresAtMs);
    clients.send(conn, JSON.stringify({ type: 'refreshed', expiresAtMs: fresh.expiresAtMs }));
  }
}
