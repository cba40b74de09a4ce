/**
 * The routes for operators, and the answer to every request no other route takes.
 *
 * - `GET /healthz`: the node's health as JSON; only `ok` is `200`, so a load balancer (and
 *   `stadium cluster`) can read the status code alone: `503` while a dispatcher's store is down
 *   (`degraded`) or the node is stopping (`shutting-down`).
 * - `GET /metrics`: Prometheus text.
 * - `GET /`: the demo page, in role all only.
 * - HEAD of each answers what GET would, without the body.
 * - Anything else: `405` with `Allow` for a known path and another method, `426` for a `GET /v1/ws`
 *   that is not a WebSocket upgrade (uWebSockets.js hands only valid upgrades to the WebSocket
 *   route), `404` for an unknown path. Every one of them JSON, and without a body for HEAD.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeId } from '../core/index.ts';
import type { ServeConfig } from './config.ts';
import { exchange, reply } from './http-reply.ts';
import { httpError } from './http-input.ts';
import type { HttpRoutes } from './http-routes.ts';
import type { Metrics } from './metrics.ts';

export interface Health {
  /** `degraded`: a dispatcher whose store is down (publishes fail); `/healthz` answers 503 unless `ok`. */
  status: 'ok' | 'degraded' | 'shutting-down';
  role: ServeConfig['role'];
  dc: string;
  node: NodeId;
  connections: number;
  topics: number;
  store: 'up' | 'down' | 'none';
  uptimeMs: number;
}

const demoPagePath = join(import.meta.dirname, 'static', 'demo.html');

/** `/healthz`, `/metrics` and (role all) the demo page at `/`. */
export function operationsRoutes(http: HttpRoutes, metrics: Metrics, health: () => Health): void {
  http.allowed.set('/healthz', 'GET, HEAD');
  http.getAndHead('/healthz', (ex) => {
    // Load balancers and `stadium cluster` read the status code: only `ok` is 200.
    const now = health();
    reply(ex, now.status === 'ok' ? 200 : 503, JSON.stringify(now));
  });
  http.allowed.set('/metrics', 'GET, HEAD');
  http.getAndHead('/metrics', (ex) => {
    void metrics.registry
      .metrics()
      .then((text) => reply(ex, 200, text, { 'Content-Type': metrics.registry.contentType }));
  });
  if (http.config.role === 'all') {
    const page = readFileSync(demoPagePath, 'utf8');
    http.allowed.set('/', 'GET, HEAD');
    http.getAndHead('/', (ex) => reply(ex, 200, page, { 'Content-Type': 'text/html; charset=utf-8' }));
  }
}

/** Every request no other route took: `426`, `405` or `404`. Registered once the others are. */
export function fallbackRoute(http: HttpRoutes): void {
  http.app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod();
    const ex = exchange(res, { head: method === 'HEAD' });
    const path = req.getUrl();
    const allowed = http.allowedFor(path);
    // uWebSockets.js hands `/v1/ws` to the WebSocket route only with a valid upgrade request.
    if (path === '/v1/ws' && method === 'GET' && allowed !== undefined) {
      return http.fail(
        ex,
        httpError(
          426,
          'upgrade-required',
          'GET /v1/ws is a WebSocket endpoint: ask for an upgrade (Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version: 13)',
        ),
        { Upgrade: 'websocket', Connection: 'Upgrade' },
      );
    }
    const error =
      allowed !== undefined
        ? httpError(405, 'method-not-allowed', `${method} ${path} is not supported; use ${allowed}`)
        : httpError(404, 'not-found', `no route ${path} on this ${http.config.role} node`);
    http.fail(ex, error, allowed !== undefined ? { Allow: allowed } : {});
  });
}
