/**
 * The simulated world: nodes running the core's roles, the network between them, viewers and
 * publishers, and the faults that strike them, on one seeded discrete-event clock. It emits what
 * happens as facts; it judges nothing.
 */
export { runWorld } from './world.ts';
export type { WorldOptions, WorldResult } from './world.ts';
export { coreRoles } from './nodes.ts';
export type { RoleCounters, Roles } from './nodes.ts';
export { bareHeapLoop } from './heap.ts';
export { faultSchedule } from './faults.ts';
