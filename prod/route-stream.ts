/**
 * `GET /v1/stream?topic=T&topic=U[&occupancy=1]`: a Server-Sent Events stream (EventSource);
 * `occupancy=1` asks for every topic's viewer count too (`event: occupancy`, prod/wire.ts).
 *
 * The query (and `Last-Event-ID`, or `?lastEventId=`) is checked before anything opens; with
 * `--jwt-secret` the token (`?token=` or `Authorization: Bearer`) is verified first and must allow
 * every topic. Then the stream opens, the frontend hears `connect`, and either one `resume` of every
 * topic from the last event id or one `subscribe` each. What the core sends it afterwards is
 * written by prod/clients.ts.
 *
 * Reliable mode: a `Last-Event-ID` (or `?lastEventId=`) holding a cursor text resumes each topic
 * from its cursor, and the connection starts its own cursors from them (its `id:` lines); a cursor
 * text that does not decode is `400 bad-cursor`. The text travels in the request head, which
 * uWebSockets.js bounds at about 4 KB (431 past it; see core/cursor.ts).
 */
import type { ConnectionId } from '../core/index.ts';
import { grantError, openGrant, subscribeGrant } from './auth.ts';
import type { TopicGrant } from './auth.ts';
import type { ViewerParts } from './client-inputs.ts';
import type { Clients } from './clients.ts';
import { exchange } from './http-reply.ts';
import type { Exchange } from './http-reply.ts';
import { bearerToken, isHttpError, parseStreamQuery } from './http-input.ts';
import { corsHeaders as cors } from './http-routes.ts';
import type { HttpRoutes } from './http-routes.ts';
import { viewerHeader } from './recorder.ts';

export function streamRoute(http: HttpRoutes, viewers: ViewerParts): void {
  http.allowed.set('/v1/stream', 'GET');
  http.app.get('/v1/stream', (res, req) =>
    onStream(
      http,
      viewers,
      exchange(res),
      req.getQuery(),
      req.getHeader('last-event-id'),
      req.getHeader('authorization'),
      req.getHeader(viewerHeader),
    ),
  );
}

function onStream(
  http: HttpRoutes,
  { clients, inputs, expiry, jwtKey }: ViewerParts,
  ex: Exchange,
  query: string,
  lastEventIdHeader: string,
  authorization: string,
  viewer: string,
): void {
  if (http.refusedForShutdown(ex, cors)) return;
  const parsed = parseStreamQuery(query, lastEventIdHeader, http.config.topicsPerConnectionMax);
  if (isHttpError(parsed)) return http.fail(ex, parsed, cors);
  const open = (grant: TopicGrant): void => {
    if (ex.aborted) return;
    const denied = grantError(grant, parsed.topics);
    if (denied !== null) return http.fail(ex, denied, cors);
    ex.answered = true;
    const conn = clients.openSse(inputs.newConnectionId(), ex.res, parsed.cursors, viewer);
    ex.onAbort = sseAborted(clients, conn.id);
    inputs.act(conn.id, { type: 'connect' });
    if (!conn.open) return;
    expiry.set(conn.id, grant.expiresAtMs);
    inputs.join(conn.id, parsed.topics, parsed.lastEventId, parsed.cursors, parsed.occupancy);
  };
  if (jwtKey === null) return open(openGrant);
  void subscribeGrant(jwtKey, parsed.token ?? bearerToken(authorization)).then((grant) => {
    if (isHttpError(grant)) return http.fail(ex, grant, cors);
    open(grant);
  });
}

/**
 * The client went away; the response must not be touched again. Made here, not inline, so the
 * closure each open stream keeps holds only the id (not the request's parsed query and friends).
 */
function sseAborted(clients: Clients, id: ConnectionId): () => void {
  return () => clients.lost(id);
}
