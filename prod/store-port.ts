/**
 * The subscription store as the production host sees it: a request in, a reply out, later. A dead
 * store is a promise that rejects or never settles; the dispatcher's own store timeout turns that
 * into `store-unavailable`, so implementations never need to time out themselves.
 */
import type { Effect, LeaseChange, StoreReply, StoreRequest } from '../core/index.ts';

export interface SubscriptionStorePort {
  request(request: StoreRequest): Promise<StoreReply>;
  /** `up` when requests can be answered now, for /healthz. */
  status(): 'up' | 'down';
  close(): Promise<void>;
}

/** Told about every lease a store grants, renews, removes or expires: metrics and debug logs. */
export type LeaseListener = (change: LeaseChange) => void;

/** A history fact a store reports (reliable mode), as the core's store reports it as an effect. */
export type HistoryEffect = Extract<Effect, { kind: 'appended' | 'trimmed' }>;

/** Told about every append to and trim of a history: metrics and traces. */
export type HistoryListener = (effect: HistoryEffect) => void;
