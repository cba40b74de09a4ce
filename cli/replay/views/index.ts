/** The replay screen's views: one per part of the screen, each drawing plain values it is given. */
export { CountersView } from './counters.tsx';
export { FaultsInForce } from './faults-in-force.tsx';
export { FollowPane } from './follow.tsx';
export { Footer } from './footer.tsx';
export { Header } from './header.tsx';
export { HelpPane } from './help.tsx';
export { RecordsPane } from './records.tsx';
export { Timeline } from './timeline.tsx';
export { Topology } from './topology.tsx';
export { ViolationsPane } from './violations.tsx';
