/**
 * The one shape every role has: make its state from options, feed it inputs, and ask when it must
 * next be fed a `deadline`. Hosts (the simulator's nodes, production's server) hold a role and its
 * state and need nothing else to run it.
 */
import type { Effect, Ms } from './types.ts';

export interface Role<State, Input, Options> {
  create(options: Options): State;
  /** Feed one input at `now` (never smaller than the last `now`); perform every effect before the next call. */
  handle(state: State, input: Input, now: Ms): Effect[];
  /** When `handle(state, { kind: 'deadline' }, now)` must next be called, or null. */
  deadline(state: Readonly<State>): Ms | null;
}
