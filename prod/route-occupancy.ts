/**
 * `GET /v1/topics/<topic>/occupancy`: how many connections watch a topic, in every datacenter, as
 * this node's dispatcher knows it. Routed as publishes are: only on a node with a dispatcher (a
 * frontend-only node answers `404 not-found`, as it does a publish).
 *
 * - Each query is an `occupancy` input to the dispatcher with an id the host gives it; the
 *   dispatcher reads its store and answers with an `occupancy-reply` effect carrying that id, which
 *   the host loop hands to `answer`. The dispatcher's store timeout bounds the wait.
 * - The topic is the path between `/v1/topics/` and `/occupancy`, percent-decoded, so a topic
 *   holding `/` may be written as it is or as `%2F`.
 * - Answers: `200 {"topic","count","byDc","stale"}` (`byDc`: per datacenter, `stale`: datacenters
 *   not heard from lately, whose share is their last known one); `400 bad-topic`; `503
 *   store-unavailable` with `Retry-After` (the store failed or did not answer in time); `404
 *   occupancy-off` when the dispatcher runs with `--occupancy-every-ms 0`. HEAD answers the same
 *   without the body.
 * - On shutdown every query still waiting is answered `503 shutting-down`.
 */
import type { OccupancyResult, PublishId } from '../core/index.ts';
import { exchange, reply, replyError } from './http-reply.ts';
import type { Exchange } from './http-reply.ts';
import { httpError } from './http-input.ts';
import type { HttpError } from './http-input.ts';
import type { Work } from './host-loop.ts';
import { corsHeaders as cors } from './http-routes.ts';
import type { HttpRoutes } from './http-routes.ts';
import { shuttingDownError } from './shutdown.ts';

/** The route's paths: the topic is the part in between. */
export const occupancyPathPattern = /^\/v1\/topics\/(.+)\/occupancy$/;

/** A count is wanted fresh: a cache between would show an old one. */
const answerHeaders: Readonly<Record<string, string>> = { ...cors, 'Cache-Control': 'no-store' };

export class OccupancyQueries {
  /** Queries awaiting the core's answer, by the id the host gave them. */
  private readonly pending = new Map<PublishId, Exchange>();
  private nextId = 1;

  constructor(
    private readonly http: HttpRoutes,
    private readonly feed: (work: Work) => void,
  ) {}

  /** `GET` and `HEAD /v1/topics/<topic>/occupancy`. */
  route(): void {
    const { app } = this.http;
    this.http.allowedPatterns.push({ pattern: occupancyPathPattern, methods: 'GET, HEAD' });
    app.get('/v1/topics/*', (res, req) => this.onQuery(exchange(res), req.getUrl()));
    app.head('/v1/topics/*', (res, req) => this.onQuery(exchange(res, { head: true }), req.getUrl()));
  }

  /** The `occupancy-reply` effect: answer the request waiting for it. */
  answer(queryId: PublishId, result: OccupancyResult): void {
    const ex = this.pending.get(queryId);
    if (ex === undefined) return;
    this.pending.delete(queryId);
    if (result.ok) {
      const { topic, count, byDc, stale } = result.occupancy;
      reply(ex, 200, JSON.stringify({ topic, count, byDc, stale }), answerHeaders);
      return;
    }
    const error = occupancyError(result);
    if (error.status !== 503) return replyError(ex, error, answerHeaders);
    replyError(ex, error, { ...answerHeaders, 'Retry-After': '1' });
  }

  /** Shutdown: every query still waiting is answered `503`. */
  refuseAll(): void {
    for (const [queryId, ex] of this.pending) {
      this.pending.delete(queryId);
      replyError(ex, shuttingDownError, { 'Retry-After': '1', ...cors });
    }
  }

  private onQuery(ex: Exchange, path: string): void {
    const { http } = this;
    if (http.refusedForShutdown(ex, { 'Retry-After': '1', ...cors })) return;
    const match = occupancyPathPattern.exec(path);
    if (match === null) {
      return http.fail(
        ex,
        httpError(
          404,
          'not-found',
          `no route ${path}: a topic's viewer count is GET /v1/topics/<topic>/occupancy`,
        ),
        cors,
      );
    }
    let topic: string;
    try {
      topic = decodeURIComponent(match[1] as string);
    } catch {
      return http.fail(
        ex,
        httpError(400, 'bad-topic', `the topic in ${path} is not valid percent-encoding`),
        cors,
      );
    }
    // The dispatcher checks the topic itself, as it does every publish's.
    const queryId = this.nextId++;
    this.pending.set(queryId, ex);
    this.feed({ role: 'dispatcher', input: { kind: 'occupancy', queryId, topic } });
  }
}

/** The HTTP error of a query the dispatcher could not answer. */
export function occupancyError(result: Extract<OccupancyResult, { ok: false }>): HttpError {
  switch (result.code) {
    case 'bad-topic':
      return httpError(400, 'bad-topic', result.message);
    case 'store-unavailable':
      return httpError(503, 'store-unavailable', result.message);
    case 'disabled':
      return httpError(
        404,
        'occupancy-off',
        `${result.message}: viewer counts are off in this deployment (--occupancy-every-ms 0)`,
      );
  }
}
