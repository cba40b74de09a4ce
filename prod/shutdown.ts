/**
 * Graceful shutdown, in order: stop listening; disconnect every client through the core (so the
 * frontend unregisters its topics with its dispatchers), telling SSE clients when to retry and
 * closing WebSockets with 1001; answer every publish and occupancy query still waiting `503
 * shutting-down`; give the
 * sends and store writes under way up to `--shutdown-grace-ms` to land; stop the role timers; close
 * the store and the app.
 *
 * From its first step the node is `shuttingDown`: routes refuse new work with `503`, `/healthz`
 * says `shutting-down`, and the host loop arms no new deadline (the ones armed still fire, so the
 * unsubscribes just sent can time out as usual).
 */
import { us_listen_socket_close } from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { Clients } from './clients.ts';
import { httpError } from './http-input.ts';
import type { HttpError } from './http-input.ts';
import type { HostLoop } from './host-loop.ts';
import type { InFlight } from './in-flight.ts';
import type { Logger } from './log.ts';
import type { OccupancyQueries } from './route-occupancy.ts';
import type { Publishes } from './route-publish.ts';
import type { StoreCalls } from './store-calls.ts';
import type { TokenExpiry } from './token-expiry.ts';

/** Whether this node began shutting down; read by the routes, `/healthz` and the host loop. */
export interface Lifecycle {
  shuttingDown: boolean;
}

/** The one answer to work refused because the node is stopping (`Retry-After` where retrying elsewhere helps). */
export const shuttingDownError: HttpError = httpError(503, 'shutting-down', 'this node is shutting down');

export interface ShutdownParts {
  app: TemplatedApp;
  listenSocket: us_listen_socket;
  lifecycle: Lifecycle;
  log: Logger;
  loop: HostLoop;
  clients: Clients;
  expiry: TokenExpiry;
  /** The SSE heartbeat (frontends), or null. */
  heartbeat: NodeJS.Timeout | null;
  publishes: Publishes | null;
  occupancyQueries: OccupancyQueries | null;
  store: StoreCalls | null;
  inFlight: InFlight;
  graceMs: number;
}

export async function shutdown(parts: ShutdownParts): Promise<void> {
  const { log, clients } = parts;
  log.info('shutting down', { connections: clients.size });
  parts.lifecycle.shuttingDown = true;
  us_listen_socket_close(parts.listenSocket);
  if (parts.heartbeat !== null) clearInterval(parts.heartbeat);
  parts.expiry.close();
  for (const conn of clients.all()) clients.close(conn, 'retry', 'server shutting down');
  parts.publishes?.refuseAll();
  parts.occupancyQueries?.refuseAll();
  // The unsubscribes just sent, and store writes they caused here, get a moment to land.
  await parts.inFlight.settle(parts.graceMs);
  parts.loop.stopTimers();
  await parts.store?.close();
  parts.app.close();
  log.info('stopped');
}
