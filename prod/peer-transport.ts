/**
 * Node-to-node messages over HTTP, both ways. Node ids are base URLs.
 *
 * - Out: a `send` to another node is `POST <target>/internal/message` with `{source, message}` over
 *   keep-alive, carrying the deployment's internal token. A failed or slow POST is dropped (and
 *   counted): the core notices the missing reply and times out by itself. A send to this very node
 *   is a direct call into the host loop.
 * - In: `POST /internal/message` can deliver, subscribe and unsubscribe on any topic, so a request
 *   without the internal token is refused before its body is read; an accepted message goes to the
 *   role that handles its type, and a node without that role answers `404 wrong-role`. Every
 *   message is shape-checked field by field first (prod/http-input.ts `parseInternalMessage`,
 *   reliable mode's deliveries, acks and history reads and replies included): one that is not is
 *   `400 bad-message`. A body may be as large as a payload at the limit allows, and at least
 *   `internalBodyBytesMin` (renewals and viewer counts of many topics carry no payload). Refusals are logged as warnings (a node with the token sending garbage is a
 *   bug or a version skew; one without it is a stranger), at most one line per
 *   `refusalLogEveryMs` with the count of those left unsaid, so a flood cannot flood the log.
 * - Role all talks to itself by direct calls only, so when no token is given it makes one up that
 *   it never sends anywhere: its `/internal/` endpoint refuses everyone.
 */
import { randomBytes } from 'node:crypto';
import type { Message, NodeId } from '../core/index.ts';
import { checkBearerToken } from './auth.ts';
import { exchange, readBody, reply } from './http-reply.ts';
import type { Exchange } from './http-reply.ts';
import { bearerToken, httpError, isHttpError, parseInternalMessage } from './http-input.ts';
import type { HttpRoutes } from './http-routes.ts';
import type { InFlight } from './in-flight.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Recorder } from './recorder.ts';

/** How long a node-to-node POST may take; the core's own timeouts are shorter and decide. */
const sendTimeoutMs = 2_000;
/** At most one refusal log line per this long; the others are counted into the next line. */
export const refusalLogEveryMs = 1_000;
/**
 * The smallest body limit of a node message, whatever `--payload-limit` says: a renewal of 500
 * topics, its lease reply's viewer counts, or a dispatcher's 500 occupancy totals are a few hundred
 * KiB and carry no payload. Only nodes holding the internal token get to send one.
 */
export const internalBodyBytesMin = 1024 * 1024;

/**
 * Hands a message to the role of this node that handles its type; false when there is none. `tag`
 * is what the source's recorder gave it (chaos runs), or undefined.
 */
export type Receive = (source: NodeId, message: Message, tag?: unknown) => boolean;

export class PeerTransport {
  /** Required on every `/internal/` request: the deployment's, or (role all) one made up here. */
  private readonly token: string;
  private readonly headers: Record<string, string>;
  private refusalLoggedAtMs = Number.NEGATIVE_INFINITY;
  private refusalsUnlogged = 0;

  constructor(
    private readonly nodeId: NodeId,
    internalToken: string | null,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly inFlight: InFlight,
    private readonly receive: Receive,
    /** Tags every message it sends and is told what arrived (chaos runs); null: nobody is. */
    private readonly recorder: Recorder | null = null,
  ) {
    this.token = internalToken ?? randomBytes(32).toString('hex');
    this.headers = { 'content-type': 'application/json', authorization: `Bearer ${this.token}` };
  }

  send(target: NodeId, message: Message): void {
    const tag = this.recorder?.sending(target, message);
    if (target === this.nodeId) {
      if (!this.receive(this.nodeId, message, tag)) this.metrics.internalSends.inc({ outcome: 'no-role' });
      return;
    }
    const body = JSON.stringify(
      tag === undefined ? { source: this.nodeId, message } : { source: this.nodeId, message, trace: tag },
    );
    const sent = fetch(`${target}/internal/message`, {
      method: 'POST',
      headers: this.headers,
      body,
      signal: AbortSignal.timeout(sendTimeoutMs),
    }).then(
      async (response) => {
        await response.arrayBuffer();
        this.metrics.internalSends.inc({ outcome: response.ok ? 'ok' : 'refused' });
        if (!response.ok) this.recorder?.sendFailed(target, message, tag, `refused: ${response.status}`);
      },
      (error: unknown) => {
        this.recorder?.sendFailed(target, message, tag, String(error));
        // The weather: the core notices the missing reply and times out by itself.
        this.metrics.internalSends.inc({ outcome: 'failed' });
        this.log.debug('send failed', { target, type: message.type, error: String(error) });
      },
    );
    this.inFlight.track(sent);
  }

  /** `POST /internal/message`: messages from other nodes. */
  route(http: HttpRoutes): void {
    http.allowed.set('/internal/message', 'POST');
    http.app.post('/internal/message', (res, req) =>
      this.onMessage(http, exchange(res), req.getHeader('authorization')),
    );
  }

  private logRefusal(what: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.refusalLoggedAtMs < refusalLogEveryMs) {
      this.refusalsUnlogged++;
      return;
    }
    this.log.warn(what, { ...fields, earlierRefusalsUnlogged: this.refusalsUnlogged });
    this.refusalLoggedAtMs = now;
    this.refusalsUnlogged = 0;
  }

  private onMessage(http: HttpRoutes, ex: Exchange, authorization: string): void {
    const denied = checkBearerToken(
      this.token,
      bearerToken(authorization),
      "node-to-node requests need this deployment's internal token",
    );
    if (denied !== null) {
      this.logRefusal('refused a node message without the internal token', { why: denied.message });
      return http.fail(ex, denied);
    }
    const bodyBytesMax = Math.max(http.bodyBytesMax, internalBodyBytesMin);
    readBody(
      ex,
      bodyBytesMax,
      (body) => {
        const parsed = parseInternalMessage(body);
        if (isHttpError(parsed)) {
          this.logRefusal('refused a malformed node message', { why: parsed.message });
          return http.fail(ex, parsed);
        }
        if (!this.receive(parsed.source, parsed.message, parsed.trace)) {
          return http.fail(
            ex,
            httpError(404, 'wrong-role', `a ${http.config.role} node does not take ${parsed.message.type}`),
          );
        }
        reply(ex, 202, '{"ok":true}');
      },
      () =>
        http.fail(ex, httpError(413, 'payload-too-large', `message over ${bodyBytesMax} bytes`), {}, true),
    );
  }
}
