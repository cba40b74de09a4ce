/**
 * The trace writer: one record per fact, and one per checker output, in the order they come. It
 * reads the world's facts and the checkers' outputs and nothing else; to name a batch's recipients
 * compactly it keeps its own subscriptions projection, built from the same facts the reader will
 * build it from.
 *
 * Subscribe it to the facts before the checkers, so a fact's record always precedes what the
 * checkers conclude from it. The last record, `end`, is written at the checkers' summary.
 */
import { unreachable, type NodeId, type Seq, type StoreEpoch, type Topic } from '../core/index.ts';
import type { CheckerOutput } from './checkers/index.ts';
import type { Fact } from './facts.ts';
import { RecipientEncoder, type Recipients } from './recipients.ts';
import { defaultRoles, reliableRoleSettings, type Scenario } from './scenario.ts';
import { Subscriptions } from './subscriptions.ts';
import { traceVersion, type TraceRecord } from './trace.ts';
import { TraceFile } from './trace-file.ts';

const connectionOps = {
  opened: 'open',
  refused: 'refused',
  closed: 'close',
  joined: 'sub',
  left: 'unsub',
} as const;

export class TraceWriter {
  private readonly file: TraceFile;
  private readonly subscriptions = new Subscriptions();
  private readonly encoder = new RecipientEncoder();

  constructor(path: string | null) {
    this.file = new TraceFile(path);
  }

  get lines(): number {
    return this.file.lines;
  }

  get bytes(): number {
    return this.file.bytes;
  }

  /** Flush, close the file, and return the hex sha256 of the trace. */
  close(): string {
    return this.file.close();
  }

  fact(fact: Fact): void {
    this.subscriptions.apply(fact);
    const record = this.recordOf(fact);
    if (record !== null) this.file.write(record);
  }

  output(output: CheckerOutput): void {
    switch (output.kind) {
      case 'violation':
        return this.file.write({ k: 'violation', t: output.violation.t, violation: output.violation });
      case 'loss': {
        const { t, e, node, n, explained, cause, f } = output.group;
        return this.file.write({
          k: 'loss',
          t,
          e,
          node,
          n,
          explained,
          cause,
          ...(f === undefined ? {} : { f }),
        });
      }
      case 'summary': {
        const { t, items, summary } = output;
        const { published, delivered, lost, violationCounts } = summary;
        return this.file.write({
          k: 'end',
          t,
          report: { items, published, delivered, lost, violations: violationCounts },
        });
      }
      default:
        return unreachable(output);
    }
  }

  private recordOf(fact: Fact): TraceRecord | null {
    switch (fact.kind) {
      case 'run': {
        const { seed, nodes, faults, timerSlackUs } = fact;
        const scenario = scenarioOfRecord(fact.scenario);
        const slack = timerSlackUs === undefined || timerSlackUs === 0 ? {} : { slackUs: timerSlackUs };
        return { k: 'run', t: 0, version: traceVersion, scenario, seed, nodes, faults, ...slack };
      }
      case 'fault':
        return { k: 'fault', t: fact.t, f: fact.f, phase: fact.phase, fault: fact.fault };
      case 'node':
        return { k: 'node', t: fact.t, node: fact.node, op: fact.op };
      case 'published': {
        const { t, node, event, origin, bytes } = fact;
        return { k: 'publish', t, e: event.id, topic: event.topic, origin, node, bytes, d: event.digest };
      }
      case 'sent': {
        const { m, from, to, type, e, topic, forwardId, deliveryId, leaseOf } = fact.message;
        const { historyAfter, historyAnswer } = fact.message;
        const r = forwardId ?? deliveryId;
        const h = historyAfter ?? historyAnswer;
        return {
          k: 'send',
          t: fact.t,
          m,
          from,
          to,
          type,
          ...(e === undefined ? {} : { e }),
          ...(topic === undefined ? {} : { topic }),
          ...(r === undefined ? {} : { r }),
          ...(leaseOf === undefined ? {} : { fe: leaseOf }),
          ...(fact.copies === 2 ? { copies: 2 } : {}),
          ...positionOf(fact.message),
          ...(h === undefined ? {} : { h }),
        };
      }
      case 'received':
        return { k: 'recv', t: fact.t, m: fact.message.m };
      case 'dropped': {
        const { t, message, why, f } = fact;
        return { k: 'drop', t, m: message.m, why, ...(f === undefined ? {} : { f }) };
      }
      case 'role-drop':
        return {
          k: 'role-drop',
          t: fact.t,
          node: fact.node,
          why: fact.reason,
          ...(fact.e === undefined ? {} : { e: fact.e }),
          ...(fact.topic === undefined ? {} : { topic: fact.topic }),
          ...(fact.dc === undefined ? {} : { dc: fact.dc }),
        };
      case 'fanned-out': {
        const { t, node, e, topic, connections } = fact;
        return {
          k: 'fanout',
          t,
          node,
          e,
          topic,
          n: connections.length,
          ...this.recipients(node, topic, connections),
          ...positionOf(fact),
        };
      }
      case 'batch-received': {
        const { t, node, event, connections } = fact;
        const { id: e, topic, digest: d } = event;
        return {
          k: 'deliver',
          t,
          node,
          e,
          topic,
          n: connections.length,
          d,
          ...this.recipients(node, topic, connections),
          ...positionOf(fact),
        };
      }
      case 'batch-lost':
        return { k: 'client-drop', t: fact.t, node: fact.node, e: fact.e, n: fact.n, why: fact.why };
      case 'connection':
        return {
          k: 'conn',
          t: fact.t,
          c: fact.id,
          node: fact.node,
          v: fact.viewer,
          op: connectionOps[fact.op],
          ...(fact.op === 'joined' || fact.op === 'left' ? { topic: fact.topic, ...positionOf(fact) } : {}),
          ...(fact.op === 'joined' && fact.resumed === true ? { resumed: true as const } : {}),
          ...(fact.op === 'opened' && fact.resumes !== undefined ? { res: [...fact.resumes] } : {}),
          ...(fact.op === 'opened' && fact.occupancy === true ? { occ: true as const } : {}),
        };
      case 'occupancy': {
        const { t, node, topic, connections, count, byDc, stale } = fact;
        const watchers = this.subscriptions.watchersAt(node, topic);
        return {
          k: 'occupancy',
          t,
          node,
          topic,
          n: connections.length,
          count,
          byDc: { ...byDc },
          ...(stale.length === 0 ? {} : { stale: [...stale] }),
          ...this.encoder.encode(watchers, connections, (c) => this.subscriptions.idOf(c)),
        };
      }
      case 'lease': {
        const { t, dc, topic, frontend, change, expUs } = fact;
        return {
          k: 'lease',
          t,
          dc,
          topic,
          fe: frontend,
          change,
          ...(expUs === undefined ? {} : { exp: expUs }),
        };
      }
      case 'due':
        return { k: 'due', t: fact.t, e: fact.e };
      case 'end':
        return null;
      case 'appended': {
        const { t, dc, e, topic, epoch: ep, seq, dup } = fact;
        return { k: 'append', t, dc, e, topic, ep, seq, ...(dup ? { dup } : {}) };
      }
      case 'trimmed': {
        const { t, dc, topic, epoch: ep, seq } = fact;
        return { k: 'trim', t, dc, topic, ep, seq };
      }
      case 'gap': {
        const { t, node, topic, connections, epoch: ep, from, to, why, e } = fact;
        return {
          k: 'gap',
          t,
          node,
          topic,
          n: connections.length,
          ep,
          from,
          to,
          why,
          ...(e === undefined ? {} : { e }),
          ...this.recipients(node, topic, connections),
        };
      }
      case 'answered': {
        const { t, dc } = fact;
        if (fact.ok) {
          const { e, warning } = fact;
          return { k: 'answer', t, dc, ok: true, e, ...(warning === undefined ? {} : { w: warning }) };
        }
        const { e, code } = fact;
        return { k: 'answer', t, dc, ok: false, ...(e === undefined ? {} : { e }), code };
      }
      default:
        return unreachable(fact);
    }
  }

  private recipients(node: NodeId, topic: Topic, connections: readonly number[]): Recipients {
    const subscribers = this.subscriptions.at(node, topic) ?? new Set<number>();
    return this.encoder.encode(subscribers, connections, (c) => this.subscriptions.idOf(c));
  }
}

/** A fact's position in its datacenter's history, as a record's `ep`/`seq` (nothing in best-effort). */
function positionOf(fact: { epoch?: StoreEpoch; seq?: Seq }): { ep?: StoreEpoch; seq?: Seq } {
  return {
    ...(fact.epoch === undefined ? {} : { ep: fact.epoch }),
    ...(fact.seq === undefined ? {} : { seq: fact.seq }),
  };
}

/**
 * The scenario as the run record carries it: whole, in its own order, but for a best-effort run
 * without the mode and the reliable-only role settings at their defaults, which the reader's parse
 * fills in again. So a best-effort trace reads byte for byte as it did before reliable mode
 * existed, and a reliable one names every setting it ran with, whatever later defaults become.
 */
export function scenarioOfRecord(scenario: Scenario): Record<string, unknown> {
  if (scenario.mode === 'reliable') return { ...scenario };
  const atDefault = (key: string, value: unknown): boolean =>
    (reliableRoleSettings as readonly string[]).includes(key) &&
    value === defaultRoles[key as (typeof reliableRoleSettings)[number]];
  const roles = Object.fromEntries(
    Object.entries(scenario.roles).filter(([key, value]) => !atDefault(key, value)),
  );
  return Object.fromEntries(
    Object.entries(scenario)
      .filter(([key, value]) => !(key === 'mode' && value === 'best-effort'))
      .map(([key, value]) => [key, key === 'roles' ? roles : value]),
  );
}
