/**
 * The pure core: the three roles as synchronous state machines over plain data, and the
 * vocabulary they share. Nothing here does IO, reads a clock or draws a random number; hosts (the
 * simulator and the production shell) feed inputs, perform effects, and call back at `deadline()`.
 */
export * from './types.ts';
export * from './assert.ts';
export * from './validation.ts';
export * as frontend from './frontend.ts';
export * as dispatcher from './dispatcher.ts';
export * as store from './subscription-store.ts';
export type {
  FrontendConfig,
  FrontendInput,
  FrontendLimits,
  FrontendOptions,
  FrontendState,
} from './frontend.ts';
export type {
  DispatcherConfig,
  DispatcherInput,
  DispatcherLimits,
  DispatcherOptions,
  DispatcherState,
} from './dispatcher.ts';
export type { StoreInput, StoreLimits, StoreState, ApplyResult } from './subscription-store.ts';
