/**
 * `stadium/client`: the Stadium client library, for browsers and Node 20 (no dependencies). One
 * connection (SSE or WebSocket) for many topics, reconnects with backoff and full jitter, resumes
 * from its cursor, dedupes by event id, delivers in order per topic, and tells the application
 * about gaps and connection states. Browsers load it from `stadium serve` at
 * `/client/stadium-client.js`; see the README's "Client library" section.
 */
export { createClient, idleTimeoutMsDefault } from './client.ts';
export type {
  Client,
  ClientError,
  ClientListeners,
  ClientOptions,
  ConnectionState,
  Event,
  StateDetail,
  SubscribeOptions,
} from './client.ts';
export { backoffCeilingMs, backoffDelayMs, defaultBackoff, stableOpenMs } from './backoff.ts';
export type { Backoff } from './backoff.ts';
export { dedupeIdsMax, reorderEventsMax, reorderWaitMsDefault } from './delivery.ts';
export type { Timers } from './delivery.ts';
export type { FetchFunction, WebSocketConstructor, WebSocketLike } from './transports.ts';
export type { EventPosition, GapNotice, Occupancy, WireNotice } from './wire.ts';
