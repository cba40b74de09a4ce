/**
 * The three roles as one set: what a host runs. The core's are `coreRoles`; tests and chaos runs
 * swap in planted-bug copies with the same shape.
 */
import { dispatcherRole, type DispatcherInput } from './dispatcher.ts';
import type { DispatcherOptions, DispatcherState } from './dispatcher-state.ts';
import { frontendRole, type FrontendInput } from './frontend.ts';
import type { FrontendOptions, FrontendState } from './frontend-state.ts';
import type { Role } from './role.ts';
import { storeRole, type StoreInput, type StoreOptions, type StoreState } from './subscription-store.ts';

export interface CoreRoles {
  frontend: Role<FrontendState, FrontendInput, FrontendOptions>;
  dispatcher: Role<DispatcherState, DispatcherInput, DispatcherOptions>;
  store: Role<StoreState, StoreInput, StoreOptions>;
}

export const coreRoles: CoreRoles = { frontend: frontendRole, dispatcher: dispatcherRole, store: storeRole };
