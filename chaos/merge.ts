/**
 * One stream of facts from a chaos run, as the simulator's checkers read a simulated run's: the
 * nodes' fact files, the harness' own facts (faults, nodes down and up, publishers' answers, what
 * the fault proxies dropped) and the viewers' receipts, merged in time order.
 *
 * Theory of operation
 * - Order: by `t` (CLOCK_MONOTONIC microseconds since the run's origin, one clock for every
 *   process), ties kept in the order they were read: a process' own facts stay in its order. What
 *   happened after the run's end (its shutdown) is left out.
 * - Connections: each node file numbers its connections from 1; here every (file, number) becomes
 *   one run-wide `c`, in the order the merged stream first names it, as the trace reader numbers
 *   them. A viewer's receipt belongs to the connection its viewer had open at that frontend then
 *   (the latest one the frontend opened for it). The topics a viewer resumed on a connection (its
 *   own record) become the `opened` fact's `resumes`, and the first join of each the `resumed` flag.
 * - Messages: numbered again from 1 in the order they were sent. A message both dropped (its sender
 *   gave up: the target was frozen past the send timeout) and received (the target handled it when
 *   it thawed) was received: the drop is struck. One received that was never sent cannot be named
 *   and is left out (counted).
 * - A frontend killed writes nothing more: its connections are closed at its `node down` fact, as
 *   the simulator closes a dead frontend's connections.
 * - Deadlines: a `due` fact for each event at its first publish plus the scenario's delivery
 *   deadline, as the simulator's world schedules them; the `end` fact after the last fact.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unreachable, usOfMs, type Topic } from '../core/index.ts';
import type { Fact, Fault, MessageFacts, Scenario, TopologyNode } from '../sim/index.ts';
import type { ViewerRecords } from './viewers.ts';

export interface MergeInput {
  scenario: Scenario;
  seed: string;
  nodes: TopologyNode[];
  faults: Fault[];
  /** The directory holding the nodes' fact files (`*.jsonl`). */
  factsDir: string;
  /** The harness' own facts, in the order it emitted them. */
  harness: readonly Fact[];
  viewers: ViewerRecords;
  /** When the run ended, on its clock. */
  endUs: number;
  /** The run's origin on CLOCK_MONOTONIC: node files hold absolute times, shifted by it here. */
  originUs: number;
  /** How late the real timers may fire, for the checkers (the run fact carries it). */
  timerSlackUs: number;
}

export interface MergeCounts {
  /** Receipts whose connection no frontend fact names (the frontend died before writing it). */
  receiptsUnmatched: number;
  /** Drops struck because the message was received after all. */
  dropsStruck: number;
  /** Receipts of messages no sender wrote (left out). */
  receivedUnsent: number;
  /** Lines of node files that were not facts (a line cut by a SIGKILL). */
  linesUnreadable: number;
}

interface Sourced {
  fact: Fact;
  /** Which node file (its index), or -1 for the harness. */
  file: number;
  order: number;
}

export function mergeFacts(input: MergeInput): { facts: Fact[]; counts: MergeCounts } {
  const counts: MergeCounts = { receiptsUnmatched: 0, dropsStruck: 0, receivedUnsent: 0, linesUnreadable: 0 };
  const all: Sourced[] = [];
  let order = 0;
  const files = readdirSync(input.factsDir)
    .filter((name) => name.endsWith('.jsonl'))
    .sort();
  files.forEach((name, file) => {
    for (const line of readFileSync(join(input.factsDir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        const fact = JSON.parse(line) as Fact;
        // Facts of the start-up, before the run's origin, happen at its first moment.
        fact.t = Math.max(0, fact.t - input.originUs);
        all.push({ fact, file, order: order++ });
      } catch {
        counts.linesUnreadable++;
      }
    }
  });
  for (const fact of input.harness) all.push({ fact, file: -1, order: order++ });

  // The frontends' connections, per (frontend, viewer), oldest first: where receipts belong.
  const byViewer = new Map<string, { t: number; key: string; opened: Sourced }[]>();
  for (const item of all) {
    const { fact } = item;
    if (fact.kind !== 'connection' || fact.op !== 'opened') continue;
    const list = byViewer.get(`${fact.node}\u0000${fact.viewer}`) ?? [];
    list.push({ t: fact.t, key: `${item.file}:${fact.c}`, opened: item });
    byViewer.set(`${fact.node}\u0000${fact.viewer}`, list);
  }
  for (const list of byViewer.values()) list.sort((a, b) => a.t - b.t);
  const connectionAt = (node: string, viewer: number, t: number) => {
    const list = byViewer.get(`${node}\u0000${viewer}`);
    if (list === undefined) return null;
    let found: (typeof list)[number] | null = null;
    for (const entry of list) if (entry.t <= t) found = entry;
    return found;
  };

  // What viewers resumed: on the server's `opened` fact, and `resumed` on the first join of each.
  const resuming = new Map<string, Set<Topic>>();
  for (const opened of input.viewers.opened) {
    if (opened.resumes.length === 0) continue;
    const connection = connectionAt(opened.node, opened.viewer, opened.t);
    if (connection === null) continue;
    const fact = connection.opened.fact;
    if (fact.kind === 'connection' && fact.op === 'opened') {
      connection.opened.fact = { ...fact, resumes: opened.resumes };
      resuming.set(connection.key, new Set(opened.resumes));
    }
  }

  // Receipts as the facts of the connection they arrived on.
  const receiptKeys = new Map<Sourced, string>();
  for (const receipt of input.viewers.receipts) {
    const connection = connectionAt(receipt.node, receipt.viewer, receipt.t);
    if (connection === null) {
      counts.receiptsUnmatched++;
      continue;
    }
    const item: Sourced = {
      fact: {
        kind: 'batch-received',
        t: receipt.t,
        node: receipt.node,
        event: receipt.event,
        connections: [0],
        ...(receipt.position === undefined
          ? {}
          : { epoch: receipt.position.epoch, seq: receipt.position.seq }),
      },
      file: -2,
      order: order++,
    };
    receiptKeys.set(item, connection.key);
    all.push(item);
  }

  // Deadlines.
  const deadlineUs = usOfMs(input.scenario.deliveryDeadlineMs);
  const due = new Set<string>();
  for (const { fact } of [...all]) {
    if (fact.kind !== 'published' || due.has(fact.event.id)) continue;
    due.add(fact.event.id);
    all.push({ fact: { kind: 'due', t: fact.t + deadlineUs, e: fact.event.id }, file: -1, order: order++ });
  }

  all.sort((a, b) => a.fact.t - b.fact.t || a.order - b.order);

  // Messages: which were received, then renumber.
  const receivedM = new Set<number>();
  const sentM = new Set<number>();
  for (const { fact } of all) {
    if (fact.kind === 'received') receivedM.add(fact.message.m);
    else if (fact.kind === 'sent') sentM.add(fact.message.m);
  }
  const messageNumbers = new Map<number, number>();
  const sentFacts = new Map<number, MessageFacts>();
  const connectionNumbers = new Map<string, number>();
  const cOf = (key: string): number => {
    let c = connectionNumbers.get(key);
    if (c === undefined) {
      c = connectionNumbers.size + 1;
      connectionNumbers.set(key, c);
    }
    return c;
  };
  const openConnections = new Map<string, { node: string; id: string; viewer: number }>();
  const facts: Fact[] = [
    {
      kind: 'run',
      t: 0,
      scenario: input.scenario,
      seed: input.seed,
      nodes: input.nodes,
      faults: input.faults,
      timerSlackUs: input.timerSlackUs,
    },
  ];
  const endUs = input.endUs;
  for (const item of all) {
    const { fact } = item;
    if (fact.t > endUs) continue;
    switch (fact.kind) {
      case 'sent': {
        const m = messageNumbers.size + 1;
        messageNumbers.set(fact.message.m, m);
        sentFacts.set(fact.message.m, fact.message);
        facts.push({ ...fact, message: { ...fact.message, m } });
        break;
      }
      case 'received':
      case 'dropped': {
        if (!sentM.has(fact.message.m)) {
          counts.receivedUnsent++;
          break;
        }
        if (fact.kind === 'dropped' && receivedM.has(fact.message.m)) {
          counts.dropsStruck++;
          break;
        }
        const m = messageNumbers.get(fact.message.m) as number;
        // A proxy's drop names only the message's number and ends: its sender's fact says the rest.
        const message =
          fact.kind === 'dropped' ? (sentFacts.get(fact.message.m) ?? fact.message) : fact.message;
        facts.push({ ...fact, message: { ...message, m } });
        break;
      }
      case 'node': {
        facts.push(fact);
        // A killed frontend's connections die with it, as the simulator's do (its process wrote no close).
        if (fact.op !== 'down') break;
        for (const [key, open] of openConnections) {
          if (open.node !== fact.node) continue;
          openConnections.delete(key);
          facts.push({
            kind: 'connection',
            op: 'closed',
            t: fact.t,
            c: cOf(key),
            id: open.id,
            node: open.node,
            viewer: open.viewer,
          });
        }
        break;
      }
      case 'connection': {
        const key = `${item.file}:${fact.c}`;
        const c = cOf(key);
        if (fact.op === 'opened')
          openConnections.set(key, { node: fact.node, id: fact.id, viewer: fact.viewer });
        else if (fact.op === 'closed' || fact.op === 'refused') openConnections.delete(key);
        if (fact.op === 'joined' && resuming.get(key)?.delete(fact.topic) === true) {
          facts.push({ ...fact, c, resumed: true });
        } else facts.push({ ...fact, c });
        break;
      }
      case 'fanned-out':
      case 'gap':
      case 'occupancy':
        facts.push({ ...fact, connections: fact.connections.map((c) => cOf(`${item.file}:${c}`)) });
        break;
      case 'batch-received':
        facts.push({ ...fact, connections: [cOf(receiptKeys.get(item) as string)] });
        break;
      case 'answered':
      case 'appended':
      case 'batch-lost':
      case 'due':
      case 'end':
      case 'fault':
      case 'lease':
      case 'published':
      case 'role-drop':
      case 'run':
      case 'trimmed':
        facts.push(fact);
        break;
      default:
        unreachable(fact);
    }
  }
  facts.push({ kind: 'end', t: endUs, items: facts.length });
  return { facts, counts };
}
