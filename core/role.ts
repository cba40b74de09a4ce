/**
 * The one shape every role has: make its state from options, feed it inputs, and ask when it must
 * next be fed a `deadline`. Hosts (the simulator's nodes, production's server) hold a role and its
 * state and need nothing else to run it.
 */
import { assert } from './assert.ts';
import type { Effect, Ms } from './types.ts';

export interface Role<State, Input, Options> {
  create(options: Options): State;
  /** Feed one input at `now` (never smaller than the last `now`); perform every effect before the next call. */
  handle(state: State, input: Input, now: Ms): Effect[];
  /** When `handle(state, { kind: 'deadline' }, now)` must next be called, or null. */
  deadline(state: Readonly<State>): Ms | null;
}

/** The part of a role's state that keeps its clock honest. */
export interface RoleClock {
  /** The last `now` handled. */
  lastNowMs: Ms;
}

/** Before a role handles an input at `now`: time never runs backwards. */
export function enterHandle(clock: RoleClock, now: Ms): void {
  assert(now >= clock.lastNowMs, `time went backwards: ${now} after ${clock.lastNowMs}`);
  clock.lastNowMs = now;
}

/** After a role handled a `deadline` input at `now`: its next deadline lies ahead, or the host would spin. */
export function assertDeadlineAdvanced(next: Ms | null, now: Ms): void {
  assert(next === null || next > now, `a deadline handled at ${now} left the next one at ${next}`);
}
