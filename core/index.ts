/**
 * The pure core: the three roles as synchronous state machines over plain data, and the
 * vocabulary they share. Nothing here does IO, reads a clock or draws a random number; hosts (the
 * simulator and the production shell) feed inputs, perform effects, and call back at `deadline()`.
 *
 * A host runs a role through its `Role` (`frontendRole`, `dispatcherRole`, `storeRole`); the other
 * functions here are what hosts and tests read off a role's state, or the store's pure rules that
 * production's embedded store applies directly.
 */
export * from './types.ts';
export * from './assert.ts';
export * from './validation.ts';
export type { Role } from './role.ts';
export { coreRoles } from './roles.ts';
export type { CoreRoles } from './roles.ts';
export { hashString } from './hash.ts';
export {
  cursorError,
  cursorTextMaxChars,
  cursorTopicsMax,
  decodeCursors,
  encodeCursors,
  isCursorText,
} from './cursor.ts';
export type { CursorDecoding } from './cursor.ts';
export { cursorJoined, cursorLeft, cursorReceived } from './viewer-cursors.ts';
export type { ViewerCursors } from './viewer-cursors.ts';
export { createFrontend, defaultFrontendLimits, frontendRole, localTopics } from './frontend.ts';
export type {
  FrontendConfig,
  FrontendInput,
  FrontendLimits,
  FrontendOptions,
  FrontendState,
} from './frontend.ts';
export {
  createDispatcher,
  defaultDispatcherLimits,
  dispatcherRole,
  eventOfStoreRequest,
} from './dispatcher.ts';
export type {
  DispatcherConfig,
  DispatcherInput,
  DispatcherLimits,
  DispatcherOptions,
  DispatcherState,
} from './dispatcher.ts';
export {
  apply as applyStoreRequest,
  createStore,
  defaultStoreLimits,
  lapsedFrontends,
  leaseWriteError,
  liveFrontends,
  occupancyOf,
  occupancyTopicsError,
  remoteTotalsError,
  storeRole,
  storeDeadline,
  sweep as sweepStore,
} from './subscription-store.ts';
export { historyAfterError } from './store-history.ts';
export { totalsPerMessageMax } from './dispatcher-occupancy.ts';
export type { ApplyResult, StoreInput, StoreLimits, StoreOptions, StoreState } from './subscription-store.ts';
