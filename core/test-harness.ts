/**
 * A tiny deterministic host for core tests: the three roles wired together by nothing but their
 * `handle`/`deadline` contracts. Every message takes 1 ms; deadlines fire in time order; a rule
 * may drop or duplicate messages. Test support only: nothing outside tests imports it.
 */
import * as dispatcher from './dispatcher.ts';
import * as frontend from './frontend.ts';
import * as store from './subscription-store.ts';
import type {
  ClientAction,
  ConnectionId,
  DeliveryMode,
  Effect,
  EventId,
  Gap,
  JsonValue,
  Message,
  Ms,
  NodeId,
  Occupancy,
  Position,
} from './types.ts';

type Node =
  | { role: 'frontend'; state: frontend.FrontendState }
  | { role: 'dispatcher'; state: dispatcher.DispatcherState }
  | { role: 'store'; state: store.StoreState };

interface Queued {
  at: Ms;
  seq: number;
  target: NodeId;
  source: NodeId;
  message: Message;
}

/** What a rule does with one message: let it through, drop it, or deliver it twice. */
export type Rule = (source: NodeId, target: NodeId, message: Message) => 'pass' | 'drop' | 'duplicate';

export class Harness {
  now: Ms = 0;
  private seq = 0;
  private readonly queue: Queued[] = [];
  readonly nodes = new Map<NodeId, Node>();
  readonly dcOf = new Map<NodeId, string>();
  readonly received = new Map<ConnectionId, EventId[]>();
  readonly messagesTo = new Map<NodeId, Message[]>();
  readonly published: EventId[] = [];
  rule: Rule = () => 'pass';

  /** Reliable mode: per connection, each delivery's seq (in arrival order) and every gap notice. */
  readonly seqs = new Map<ConnectionId, number[]>();
  readonly gaps = new Map<ConnectionId, Gap[]>();
  readonly joinedAt = new Map<ConnectionId, Position>();
  /** Occupancy: per connection, every viewer count it was told, with when. */
  readonly occupancies = new Map<ConnectionId, { at: Ms; occupancy: Occupancy }[]>();

  constructor(
    layout: Record<string, { frontends: number; dispatchers: number }>,
    options: {
      mode?: DeliveryMode;
      storeLimits?: Partial<store.StoreLimits>;
      frontendLimits?: Partial<frontend.FrontendLimits>;
      forwardWindowMs?: Ms;
      occupancyEveryMs?: Ms;
      leaseMs?: Ms;
      renewEveryMs?: Ms;
    } = {},
  ) {
    const mode = options.mode ?? 'best-effort';
    const dispatchersOf = (dc: string) =>
      Array.from({ length: layout[dc]!.dispatchers }, (_, i) => `${dc}/d-${i + 1}`);
    for (const dc of Object.keys(layout)) {
      const peers = Object.fromEntries(
        Object.keys(layout)
          .filter((other) => other !== dc)
          .map((other) => [other, dispatchersOf(other)]),
      );
      for (const id of dispatchersOf(dc)) {
        this.add(id, dc, {
          role: 'dispatcher',
          state: dispatcher.createDispatcher({
            nodeId: id,
            dc,
            idPrefix: `${id}:`,
            peers,
            mode,
            ...(options.forwardWindowMs === undefined ? {} : { forwardWindowMs: options.forwardWindowMs }),
            ...(options.occupancyEveryMs === undefined ? {} : { occupancyEveryMs: options.occupancyEveryMs }),
          }),
        });
      }
      for (let i = 1; i <= layout[dc]!.frontends; i++) {
        const id = `${dc}/fe-${i}`;
        this.add(id, dc, {
          role: 'frontend',
          state: frontend.createFrontend({
            nodeId: id,
            dc,
            dispatchers: dispatchersOf(dc),
            leaseMs: options.leaseMs ?? 1_000,
            mode,
            renewEveryMs: options.renewEveryMs ?? 300,
            ...(options.occupancyEveryMs === undefined ? {} : { occupancyEveryMs: options.occupancyEveryMs }),
            ...(options.frontendLimits === undefined ? {} : { limits: options.frontendLimits }),
          }),
        });
      }
      this.add(`${dc}/store`, dc, {
        role: 'store',
        state: store.createStore({ sweepEveryMs: 100, ...options.storeLimits }),
      });
    }
  }

  private add(id: NodeId, dc: string, node: Node): void {
    this.nodes.set(id, node);
    this.dcOf.set(id, dc);
  }

  client(frontendId: NodeId, connection: ConnectionId, action: ClientAction): void {
    const node = this.nodes.get(frontendId);
    if (node?.role !== 'frontend') throw new Error(`${frontendId} is not a frontend`);
    this.perform(frontendId, frontend.handle(node.state, { kind: 'client', connection, action }, this.now));
  }

  publish(dispatcherId: NodeId, topic: string, payload: JsonValue): void {
    this.send('publisher', dispatcherId, { type: 'publish', requestId: this.seq, topic, payload });
  }

  /** The store of `dc` loses its data and starts again under `epoch`. */
  restartStore(dc: string, epoch: number): void {
    const node = this.nodes.get(`${dc}/store`);
    if (node?.role !== 'store') throw new Error('no store');
    node.state = store.createStore({ ...node.state.limits }, epoch);
  }

  /** `id` dies: its state and timers are gone, messages to it are lost. */
  kill(id: NodeId): void {
    if (!this.nodes.delete(id)) throw new Error(`no node ${id}`);
  }

  leases(dc: string, topic: string): NodeId[] {
    const node = this.nodes.get(`${dc}/store`);
    if (node?.role !== 'store') throw new Error('no store');
    return store.liveFrontends(node.state, topic, this.now);
  }

  /** Run until nothing is queued and no deadline falls before `until`. */
  run(until: Ms): void {
    for (;;) {
      const head = this.queue[0];
      let next: { at: Ms; node?: NodeId } | null = head === undefined ? null : { at: head.at };
      for (const [id, node] of this.nodes) {
        const due = this.deadlineOf(node);
        if (due !== null && (next === null || due < next.at)) next = { at: due, node: id };
      }
      if (next === null || next.at > until) break;
      this.now = Math.max(this.now, next.at);
      if (next.node !== undefined) {
        const node = this.nodes.get(next.node)!;
        this.perform(next.node, this.step(node, { kind: 'deadline' }));
        continue;
      }
      const item = this.queue.shift()!;
      (this.messagesTo.get(item.target) ?? this.messagesTo.set(item.target, []).get(item.target)!).push(
        item.message,
      );
      const node = this.nodes.get(item.target);
      if (item.target === 'publisher') {
        if (item.message.type === 'publish-reply' && item.message.result.ok)
          this.published.push(item.message.result.eventId);
        continue;
      }
      if (node === undefined) continue;
      if (node.role === 'dispatcher' && item.message.type === 'store-reply') {
        this.perform(
          item.target,
          this.step(node, {
            kind: 'store-reply',
            requestId: item.message.requestId,
            reply: item.message.reply,
          }),
        );
      } else {
        this.perform(
          item.target,
          this.step(node, { kind: 'message', source: item.source, message: item.message }),
        );
      }
    }
    this.now = Math.max(this.now, until);
  }

  private deadlineOf(node: Node): Ms | null {
    if (node.role === 'frontend') return frontend.deadline(node.state);
    if (node.role === 'dispatcher') return dispatcher.deadline(node.state);
    return store.deadline(node.state);
  }

  private step(node: Node, input: dispatcher.DispatcherInput): Effect[] {
    if (node.role === 'dispatcher') return dispatcher.handle(node.state, input, this.now);
    if (input.kind === 'store-reply' || input.kind === 'publish' || input.kind === 'occupancy')
      throw new Error(`${input.kind} to a non-dispatcher`);
    if (node.role === 'frontend') return frontend.handle(node.state, input, this.now);
    return store.handle(node.state, input, this.now);
  }

  private perform(source: NodeId, effects: Effect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'send':
          this.send(source, effect.target, effect.message);
          break;
        case 'store-request':
          this.send(source, `${this.dcOf.get(source)}/store`, {
            type: 'store-request',
            requestId: effect.requestId,
            request: effect.request,
          });
          break;
        case 'deliver':
          for (const c of effect.connections) {
            (this.received.get(c) ?? this.received.set(c, []).get(c)!).push(effect.event.id);
            if (effect.position !== undefined)
              (this.seqs.get(c) ?? this.seqs.set(c, []).get(c)!).push(effect.position.seq);
          }
          break;
        case 'notice':
          if (effect.notice.gap !== undefined) {
            const c = effect.connection;
            (this.gaps.get(c) ?? this.gaps.set(c, []).get(c)!).push(effect.notice.gap);
          }
          break;
        case 'joined':
          if (effect.position !== undefined) this.joinedAt.set(effect.connection, effect.position);
          break;
        case 'occupancy':
          for (const c of effect.connections)
            (this.occupancies.get(c) ?? this.occupancies.set(c, []).get(c)!).push({
              at: this.now,
              occupancy: effect.occupancy,
            });
          break;
        case 'connected':
        case 'left':
        case 'close':
        case 'drop':
        case 'lease':
        case 'appended':
        case 'trimmed':
        case 'published':
        case 'publish-reply':
        case 'occupancy-reply':
          break;
      }
    }
  }

  send(source: NodeId, target: NodeId, message: Message): void {
    const verdict = this.rule(source, target, message);
    if (verdict === 'drop') return;
    const copies = verdict === 'duplicate' ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const item = { at: this.now + 1 + i, seq: this.seq++, target, source, message };
      let index = this.queue.length;
      while (index > 0 && this.queue[index - 1]!.at > item.at) index--;
      this.queue.splice(index, 0, item);
    }
  }
}
