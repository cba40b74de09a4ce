/**
 * Who is subscribed where, since when, and who watches viewer counts: a projection of the
 * `connection` facts. The checkers read it to judge misdelivery, expected deliveries and viewer
 * counts; the trace writer and the trace reader read their own copies to name a batch's recipients
 * relative to the topic's subscribers at its frontend (an occupancy's, to its watchers there).
 *
 * It follows the frontends' own `joined`/`left` effects, never a role's state. A closed connection
 * leaves all its topics. Sets and maps keep insertion order, so a topic's subscribers at a frontend
 * are listed in the order they joined, as the frontend lists them.
 */
import { assert, unreachable, type ConnectionId, type NodeId, type Topic, type Us } from '../core/index.ts';
import type { Fact } from './facts.ts';

export interface SubscribedConnection {
  id: ConnectionId;
  frontend: NodeId;
  open: boolean;
  /** Its viewer asks for the viewer count of every topic it subscribes to (the `opened` fact's `occupancy`). */
  watches: boolean;
  /** Topic -> since when it has been subscribed without interruption. */
  topics: Map<Topic, Us>;
}

export class Subscriptions {
  private readonly ids: (ConnectionId | undefined)[] = [];
  private readonly connections: (SubscribedConnection | undefined)[] = [];
  private readonly byFrontend = new Map<NodeId, Map<Topic, Set<number>>>();
  /** Topic -> connection -> since when it has been subscribed there without interruption. */
  private readonly byTopic = new Map<Topic, Map<number, Us>>();
  /** `frontend, topic` -> when its last viewer there left (absent while it has one, or never had). */
  private readonly emptiedAt = new Map<string, Us>();

  /** Follow one fact; every fact but `connection` leaves the projection as it is. */
  apply(fact: Fact): void {
    if (fact.kind !== 'connection') return;
    switch (fact.op) {
      case 'opened':
        this.ids[fact.c] = fact.id;
        this.connections[fact.c] = {
          id: fact.id,
          frontend: fact.node,
          open: true,
          watches: fact.occupancy === true,
          topics: new Map(),
        };
        return;
      case 'refused':
        this.ids[fact.c] = fact.id;
        return;
      case 'closed': {
        const connection = this.connection(fact.c);
        for (const topic of [...connection.topics.keys()]) this.leave(fact.c, topic, fact.t);
        connection.open = false;
        return;
      }
      case 'joined':
        return this.join(fact.c, fact.topic, fact.t);
      case 'left':
        return this.leave(fact.c, fact.topic, fact.t);
      default:
        return unreachable(fact);
    }
  }

  /** The connection's id, for any connection a fact has named. */
  idOf(c: number): ConnectionId {
    const id = this.ids[c];
    assert(id !== undefined, `no fact named connection #${c}`);
    return id;
  }

  /** An opened connection, or undefined for one that never opened. */
  get(c: number): SubscribedConnection | undefined {
    return this.connections[c];
  }

  /** The connections subscribed to `topic` at `frontend`, in the order they joined. */
  at(frontend: NodeId, topic: Topic): ReadonlySet<number> | undefined {
    return this.byFrontend.get(frontend)?.get(topic);
  }

  /** The connections subscribed to `topic` at `frontend` that watch its viewer count, in the order they joined. */
  watchersAt(frontend: NodeId, topic: Topic): Set<number> {
    const watchers = new Set<number>();
    for (const c of this.at(frontend, topic) ?? [])
      if (this.connections[c]?.watches === true) watchers.add(c);
    return watchers;
  }

  /** Every connection subscribed to `topic`, anywhere, with since when. */
  of(topic: Topic): ReadonlyMap<number, Us> | undefined {
    return this.byTopic.get(topic);
  }

  /**
   * When `frontend` last had a viewer of `topic`: `now` while it has one, the moment the last one
   * left, or null if it never had one.
   */
  lastViewerAt(frontend: NodeId, topic: Topic, now: Us): Us | null {
    if ((this.at(frontend, topic)?.size ?? 0) > 0) return now;
    return this.emptiedAt.get(`${frontend}\u0000${topic}`) ?? null;
  }

  private join(c: number, topic: Topic, t: Us): void {
    const connection = this.connection(c);
    if (connection.topics.has(topic)) return;
    connection.topics.set(topic, t);
    let byTopic = this.byFrontend.get(connection.frontend);
    if (byTopic === undefined) this.byFrontend.set(connection.frontend, (byTopic = new Map()));
    let set = byTopic.get(topic);
    if (set === undefined) byTopic.set(topic, (set = new Set()));
    set.add(c);
    let all = this.byTopic.get(topic);
    if (all === undefined) this.byTopic.set(topic, (all = new Map()));
    all.set(c, t);
  }

  private leave(c: number, topic: Topic, t: Us): void {
    const connection = this.connection(c);
    if (!connection.topics.delete(topic)) return;
    const here = this.byFrontend.get(connection.frontend)?.get(topic);
    here?.delete(c);
    if (here?.size === 0) this.emptiedAt.set(`${connection.frontend}\u0000${topic}`, t);
    this.byTopic.get(topic)?.delete(c);
  }

  private connection(c: number): SubscribedConnection {
    const connection = this.connections[c];
    assert(connection !== undefined, `connection #${c} changed before it opened`);
    return connection;
  }
}
