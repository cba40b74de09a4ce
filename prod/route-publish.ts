/**
 * `POST /v1/publish`: a publish from an application backend, or a batch of them.
 *
 * - Each event is a `publish` input to this node's dispatcher with an id the host gives it; the
 *   dispatcher answers with a `publish-reply` effect carrying that id, which the host loop hands to
 *   `answer`. No made-up node id: the publisher is not a node.
 * - A batch (a JSON array) is one publish per event, answered `200 {"results": [...]}` in order
 *   once the last one is known; an event that does not parse fails alone, with its 4xx in place.
 * - Refused before the body is read: shutting down (`503`), a wrong publish token (`401`/`403`), a
 *   `Content-Length` past what a payload at the limit can take (`413`, and the connection closes).
 * - On shutdown every publish still waiting is answered `503 shutting-down`.
 */
import type { Position, PublishId, PublishResult, PublishWarning } from '../core/index.ts';
import { checkPublishToken } from './auth.ts';
import { exchange, readBody, reply, replyError } from './http-reply.ts';
import type { Exchange } from './http-reply.ts';
import { bearerToken, httpError, isHttpError, parsePublishBody, publishErrorStatus } from './http-input.ts';
import type { HttpError, PublishRequest } from './http-input.ts';
import type { Work } from './host-loop.ts';
import { corsHeaders as cors } from './http-routes.ts';
import type { HttpRoutes } from './http-routes.ts';
import { shuttingDownError } from './shutdown.ts';

/** A publish awaiting the core's answer: an HTTP request of its own, or one event of a batch. */
type PendingPublish = { ex: Exchange } | { batch: PendingBatch; index: number };

/** What a batch publish answers for each of its events, in order. */
type BatchResult =
  | { id: string; warning?: PublishWarning; position?: Position }
  | { status: number; code: string; error: string; retryAfterMs?: number };

interface PendingBatch {
  ex: Exchange;
  /** null until that event's answer is known. */
  results: (BatchResult | null)[];
  left: number;
}

export class Publishes {
  /** Publishes awaiting the core's answer, by the id the host gave them. */
  private readonly pending = new Map<PublishId, PendingPublish>();
  private nextId = 1;

  constructor(
    private readonly http: HttpRoutes,
    private readonly feed: (work: Work) => void,
  ) {}

  /** `POST /v1/publish`, and its CORS preflight. */
  route(): void {
    const { app } = this.http;
    this.http.allowed.set('/v1/publish', 'POST');
    app.post('/v1/publish', (res, req) =>
      this.onPublish(exchange(res), req.getHeader('authorization'), req.getHeader('content-length')),
    );
    app.options('/v1/publish', (res) => {
      reply(exchange(res), 204, '', {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'Content-Type, Authorization',
        'Content-Type': 'text/plain',
      });
    });
  }

  /** The `publish-reply` effect: answer the request (or the batch event) waiting for it. */
  answer(publishId: PublishId, result: PublishResult): void {
    const pending = this.pending.get(publishId);
    if (pending === undefined) return;
    this.pending.delete(publishId);
    if ('batch' in pending) {
      return this.settleBatchEvent(
        pending,
        result.ok
          ? publishedBody(result)
          : {
              status: publishErrorStatus(result.code),
              code: result.code,
              error: result.message,
              ...(result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs }),
            },
      );
    }
    if (result.ok) {
      reply(pending.ex, 200, JSON.stringify(publishedBody(result)), cors);
      return;
    }
    const status = publishErrorStatus(result.code);
    const error = httpError(status, result.code, result.message);
    if (result.retryAfterMs === undefined) return replyError(pending.ex, error, cors);
    replyError(
      pending.ex,
      error,
      { 'Retry-After': String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))), ...cors },
      { retryAfterMs: result.retryAfterMs },
    );
  }

  /** Shutdown: every publish still waiting is answered `503`. */
  refuseAll(): void {
    for (const [publishId, pending] of this.pending) {
      this.pending.delete(publishId);
      if ('batch' in pending) this.settleBatchEvent(pending, batchFailure(shuttingDownError));
      else replyError(pending.ex, shuttingDownError, { 'Retry-After': '1' });
    }
  }

  private onPublish(ex: Exchange, authorization: string, contentLength: string): void {
    const { http } = this;
    if (http.refusedForShutdown(ex, { 'Retry-After': '1', ...cors })) return;
    const authError = checkPublishToken(http.config.publishToken, bearerToken(authorization));
    if (authError !== null) return http.fail(ex, authError, cors);
    const tooLarge = httpError(
      413,
      'payload-too-large',
      `the body is over ${http.bodyBytesMax} bytes (the payload limit is ${http.config.payloadLimitBytes} bytes)`,
    );
    if (contentLength !== '' && Number(contentLength) > http.bodyBytesMax)
      return http.fail(ex, tooLarge, cors, true);
    readBody(
      ex,
      http.bodyBytesMax,
      (body) => {
        const parsed = parsePublishBody(body);
        if (isHttpError(parsed)) return http.fail(ex, parsed, cors);
        if (!parsed.batch) return this.start(parsed.request, { ex });
        // Every event of a batch is its own publish; the reply waits for all of them.
        const batch: PendingBatch = { ex, results: [], left: 0 };
        for (const item of parsed.items) {
          batch.results.push(isHttpError(item) ? batchFailure(item) : null);
          if (!isHttpError(item)) batch.left++;
        }
        if (batch.left === 0) return this.finishBatch(batch);
        parsed.items.forEach((item, index) => {
          if (!isHttpError(item)) this.start(item, { batch, index });
        });
      },
      () => http.fail(ex, tooLarge, cors, true),
    );
  }

  private start(request: PublishRequest, pending: PendingPublish): void {
    const publishId = this.nextId++;
    this.pending.set(publishId, pending);
    this.feed({ role: 'dispatcher', input: { kind: 'publish', publishId, request } });
  }

  /** One event of a batch is answered; the batch's reply goes once the last one is. */
  private settleBatchEvent(
    { batch, index }: { batch: PendingBatch; index: number },
    result: BatchResult,
  ): void {
    batch.results[index] = result;
    if (--batch.left === 0) this.finishBatch(batch);
  }

  private finishBatch(batch: PendingBatch): void {
    reply(batch.ex, 200, JSON.stringify({ results: batch.results }), cors);
  }
}

/** A batch event that was not published, as the batch's results name it. */
function batchFailure(error: HttpError): BatchResult {
  return { status: error.status, code: error.code, error: error.message };
}

/** The 200 body of one published event: its id, and a warning when it may not reach every viewer. */
/** `{id}`, with the warning if any, and (reliable mode) where the event stands in this datacenter's history. */
function publishedBody(result: Extract<PublishResult, { ok: true }>): {
  id: string;
  warning?: PublishWarning;
  position?: Position;
} {
  return {
    id: result.eventId,
    ...(result.warning === undefined ? {} : { warning: result.warning }),
    ...(result.position === undefined ? {} : { position: result.position }),
  };
}
