/**
 * One event's path through the world, as the trace has it: its publish, every message that carried
 * or served it with that message's fate, the frontends that delivered it and to which connections,
 * the drops and losses with their reasons and faults, and the violations that name it.
 *
 * Reliable mode adds, from the same records: each store's append of it with its seq and epoch (a
 * `dup` when the store held it already), its position on every delivery and fan-out, each attempt
 * of a delivery, a forward and the publish numbered, a retry named as one (after how long without
 * an ack, and a forward's failover to another dispatcher), each attempt's ack and its fate on the
 * attempt's line, history answers and gap notices that cover its seq, and the publisher's answer.
 *
 * Attempts are told apart by the id a retry keeps (`r`: a forward's or a delivery's id) and their
 * ends; a deliver-ack names its event, a forward-ack only its forward's id, matched here.
 *
 * It reads from the checkpoint before the event's publish (one earlier when that is less than a
 * second before it, for the publisher's first attempts) to its last record, and a little past
 * that while a message that carries it has no fate yet or a forward that arrived has no ack yet
 * (at most four checkpoints' worth of records or 10 simulated seconds more).
 */
import { unreachable, type MessageType } from '../../core/index.ts';
import type { TraceRecord } from '../../sim/index.ts';
import {
  answerText,
  formatDelay,
  formatSpan,
  gapWhyText,
  historyText,
  positionText,
  seqsText,
} from './format.ts';
import { isReliable, type ViolationEntry } from './index-pass.ts';
import type { TraceIndex } from './trace-index.ts';

export interface FollowStep {
  t: number;
  line: number;
  text: string;
  /** Something went wrong here: a drop, a loss, a violation, a refusal, a gap. */
  bad: boolean;
}

export interface Followed {
  e: string;
  found: boolean;
  topic?: string;
  steps: FollowStep[];
  violations: ViolationEntry[];
}

/** How a follow step names a message type: the hops of an event in words, any other type as itself. */
function hopLabel(type: MessageType, reliable: boolean): string {
  switch (type) {
    case 'store-request':
      return reliable ? 'store append' : 'store lookup';
    case 'store-reply':
      return 'store answer';
    case 'forward':
      return 'cross-DC forward';
    case 'deliver':
      return reliable ? 'delivery' : 'to frontend';
    case 'deliver-ack':
      return 'delivery ack';
    case 'forward-ack':
      return 'forward ack';
    case 'history-read':
      return 'history read';
    case 'history-reply':
      return 'history answer';
    case 'publish':
    case 'publish-reply':
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
    case 'lease-reply':
    case 'store-reset':
    case 'occupancy':
      return type;
    default:
      return unreachable(type);
  }
}

/** A step being written: a message's fate and its ack's come later. */
interface Draft {
  t: number;
  line: number;
  head: string;
  /** A message's fate (`in flight` until it is known); null for a step that is no message. */
  fate: string | null;
  /** The fate of the ack this attempt drew, if any. */
  ack: string | null;
  bad: boolean;
}

/** The attempts of one delivery, forward or publish: each a message, in the order sent. */
interface Attempts {
  drafts: Draft[];
  targets: string[];
  lastT: number;
  /** A forward: an attempt arrived and no ack has been sent for it yet. */
  awaitingAck: boolean;
}

type SendRecord = Extract<TraceRecord, { k: 'send' }>;

/** Reading further than the event's last record: how many records, and how far in time. */
const extraCheckpoints = 4;
const extraUs = 10_000_000;
/** How far before its publish the publisher's first attempts of an event are looked for. */
const lookBackUs = 1_000_000;

export function followEvent(index: TraceIndex, e: string): Followed {
  const violations = index.violations.filter((v) => v.violation.e === e);
  const span = index.eventSpan(e);
  if (span === null) return { e, found: false, steps: [], violations };
  let k = index.checkpointAtOffset(span.firstOffset);
  if (k > 0 && index.checkpoints[k]!.t > span.firstT - lookBackUs) k--;
  const state = index.restore(k);
  const reliable = isReliable(index);
  const drafts: Draft[] = [];
  /**
   * Messages in flight by number: the step whose fate, or whose ack's fate, they decide, when they
   * were sent, and for a forward's attempt the forward (which then awaits its ack).
   */
  const pending = new Map<number, { draft: Draft; sentT: number; ack: boolean; forward?: Attempts }>();
  const attempts = new Map<string, Attempts>();
  /** Where each datacenter's store holds the event: its latest append there. */
  const positions = new Map<string, { ep: number; seq: number }>();
  let published = false;
  let topic: string | undefined;
  /** The last answer the publisher got, for why it sent the publish again. */
  let lastAnswer: Extract<TraceRecord, { k: 'answer' }> | null = null;
  let extra = 0;
  const extraMax = index.checkpointEvery * extraCheckpoints;
  const fault = (f: number | undefined): string => (f === undefined ? '' : ` (${index.faultName(f)})`);
  const dcOf = (node: string): string => node.slice(0, node.indexOf('/'));

  const step = (record: TraceRecord, line: number, head: string, bad = false): Draft => {
    const draft: Draft = { t: record.t, line, head, fate: null, ack: null, bad };
    drafts.push(draft);
    return draft;
  };

  /** A message of the event: a step whose fate its `recv` or `drop` will tell. */
  const hop = (record: SendRecord, line: number, detail: string): Draft => {
    const draft = step(
      record,
      line,
      `${record.from} -> ${record.to} ${hopLabel(record.type, reliable)} #${record.m}${detail}`,
    );
    draft.fate = 'in flight';
    pending.set(record.m, { draft, sentT: record.t, ack: false });
    return draft;
  };

  /**
   * An attempt of a delivery, forward or publish (`key` names which): the first reads as a hop, a
   * later one as `attempt N to X after …`, with a forward's failover when the target changed.
   */
  const attempt = (
    record: SendRecord,
    line: number,
    key: string,
    detail: string,
    why: () => string,
  ): void => {
    const seen = attempts.get(key);
    const forward = record.type === 'forward';
    if (seen === undefined) {
      const draft = hop(record, line, detail);
      const first: Attempts = { drafts: [draft], targets: [record.to], lastT: record.t, awaitingAck: false };
      attempts.set(key, first);
      if (forward) pending.set(record.m, { draft, sentT: record.t, ack: false, forward: first });
      return;
    }
    const previous = seen.targets.at(-1)!;
    const failover = forward && previous !== record.to ? ` (failover from ${previous})` : '';
    const label = hopLabel(record.type, reliable);
    const draft = step(
      record,
      line,
      `${record.from} ${label} #${record.m}${detail}, attempt ${seen.drafts.length + 1} to ${record.to} ${why()}${failover}`,
    );
    draft.fate = 'in flight';
    pending.set(record.m, { draft, sentT: record.t, ack: false, ...(forward ? { forward: seen } : {}) });
    seen.drafts.push(draft);
    seen.targets.push(record.to);
    seen.lastT = record.t;
  };

  /** An ack of an attempt: its fate goes on the line of the latest attempt to the acknowledging node. */
  const ack = (record: SendRecord, line: number, key: string): void => {
    const seen = attempts.get(key);
    let i = seen === undefined ? -1 : seen.targets.lastIndexOf(record.from);
    if (seen === undefined || i < 0) {
      if (record.type === 'deliver-ack') hop(record, line, '');
      return;
    }
    // Acks answer arrivals: the latest attempt to that node that arrived, else its latest.
    for (let j = i; j >= 0; j--)
      if (seen.targets[j] === record.from && seen.drafts[j]!.fate!.startsWith('arrived')) {
        i = j;
        break;
      }
    const draft = seen.drafts[i]!;
    draft.ack = `ack #${record.m} in flight`;
    seen.awaitingAck = false;
    pending.set(record.m, { draft, sentT: record.t, ack: true });
  };

  /** A message's fate: on its step, or on the step of the attempt it acknowledges. */
  const fate = (record: Extract<TraceRecord, { k: 'recv' | 'drop' }>): void => {
    const waiting = pending.get(record.m);
    if (waiting === undefined) return;
    pending.delete(record.m);
    const { draft, forward } = waiting;
    const delay = formatDelay(record.t - waiting.sentT);
    const text =
      record.k === 'recv' ? `arrived ${delay}` : `DROPPED ${delay}, ${record.why}${fault(record.f)}`;
    if (waiting.ack) draft.ack = draft.ack!.replace('in flight', text);
    else draft.fate = text;
    if (record.k === 'drop') draft.bad = true;
    // A forward's attempt that arrived awaits its ack (the peer acks once it has appended).
    else if (forward !== undefined && forward.drafts.at(-1) === draft) forward.awaitingAck = true;
  };

  /** The event's position in the history of the datacenter of `node`, and whether a range of `ep` covers it. */
  const covered = (node: string, ep: number, from: number, to: number | null): number | null => {
    const at = positions.get(dcOf(node));
    if (at === undefined || at.ep !== ep || at.seq < from || (to !== null && at.seq > to)) return null;
    return at.seq;
  };

  /**
   * A gap notice that covers the event's seq at its frontend's datacenter: those viewers never get
   * it. Or one that names it as a repeat: its seq holds it again (appended again after its store
   * lost the epoch it had), and viewers who had it do not get it twice.
   */
  const gap = (record: Extract<TraceRecord, { k: 'gap' }>, line: number): void => {
    if (record.topic !== topic) return;
    const viewers = `${record.n} viewer${record.n === 1 ? '' : 's'}`;
    if (record.why === 'duplicate') {
      if (record.e === e)
        step(
          record,
          line,
          `${record.node} told ${viewers} seq ${record.from} of epoch ${record.ep} holds it again (appended again): not given twice`,
        );
      return;
    }
    const seq = covered(record.node, record.ep, record.from, record.to);
    if (seq === null) return;
    step(
      record,
      line,
      `GAP at ${record.node}: ${seqsText(record.from, record.to)} of epoch ${record.ep} ${gapWhyText(record.why, record.e)}, told to ${viewers}; it is seq ${seq} there`,
      true,
    );
  };

  const awaitingAcks = (): boolean => {
    for (const seen of attempts.values()) if (seen.awaitingAck) return true;
    return false;
  };

  let scannedTo = span.firstOffset;
  index.scan(k, state, (record, line, offset) => {
    scannedTo = offset;
    if (offset < span.firstOffset) {
      // Before the publish: only the publisher's first attempts of it, and their fates.
      if (record.k === 'send' && record.type === 'publish' && record.e === e) onSend(record, line);
      else if (record.k === 'recv' || record.k === 'drop') fate(record);
      return true;
    }
    switch (record.k) {
      case 'publish':
        if (record.e === e) {
          topic = record.topic;
          step(
            record,
            line,
            published
              ? `${record.node} accepted it again (a publish sent again)`
              : `published on ${record.topic} at ${record.node} (origin ${record.origin}, ${record.bytes} B)`,
          );
          published = true;
        }
        break;
      case 'send':
        onSend(record, line);
        break;
      case 'recv':
      case 'drop':
        fate(record);
        break;
      case 'role-drop':
        if (record.e === e)
          step(
            record,
            line,
            `${record.node} gave up: ${record.why}${record.dc ? ` (for ${record.dc})` : ''}`,
            true,
          );
        break;
      case 'append':
        if (record.e === e) {
          const before = positions.get(record.dc);
          positions.set(record.dc, { ep: record.ep, seq: record.seq });
          const where = `seq ${record.seq} of epoch ${record.ep}`;
          step(
            record,
            line,
            record.dup === true
              ? `${record.dc} already held it as ${where} (dup)`
              : before === undefined
                ? `${record.dc} stored it as ${where}`
                : `${record.dc} stored it again as ${where} (it was seq ${before.seq} of epoch ${before.ep}, an epoch its store lost)`,
          );
        }
        break;
      case 'fanout':
        if (record.e === e && record.seq !== undefined)
          step(
            record,
            line,
            `${record.node} fanned out ${positionText(record.ep, record.seq)} to ${record.n} connection${record.n === 1 ? '' : 's'}`,
          );
        break;
      case 'deliver':
        if (record.e === e) {
          const recipients = state.recipients(record);
          const shown = recipients.slice(0, 6).join(' ');
          const more = recipients.length > 6 ? ` +${recipients.length - 6} more` : '';
          const at = record.seq === undefined ? '' : ` ${positionText(record.ep, record.seq)}`;
          step(
            record,
            line,
            `${record.node} delivered${at} to ${record.n} connection${record.n === 1 ? '' : 's'}: ${shown}${more}`,
          );
        }
        break;
      case 'client-drop':
        if (record.e === e)
          step(
            record,
            line,
            `${record.node} lost the batch for ${record.n} connections: ${record.why}`,
            true,
          );
        break;
      case 'gap':
        gap(record, line);
        break;
      case 'answer':
        if (record.e === e) {
          lastAnswer = record;
          const pendingForward =
            record.ok && record.w === 'forward-pending'
              ? ' (a peer datacenter had not acknowledged it yet)'
              : '';
          step(record, line, `${record.dc}/publisher: ${answerText(record)}${pendingForward}`, !record.ok);
        }
        break;
      case 'loss':
        if (record.e === e) {
          const deliveries = `${record.n} deliver${record.n === 1 ? 'y' : 'ies'} at ${record.node ?? 'unknown frontend'}`;
          step(
            record,
            line,
            reliable
              ? `not there by the deadline: ${deliveries}, ${record.cause}, ${record.explained ? 'explained' : 'UNEXPLAINED'}${fault(record.f)} (reliable mode delivers them later or tells a gap)`
              : `LOST ${deliveries}: ${record.cause}, ${record.explained ? 'explained' : 'UNEXPLAINED'}${fault(record.f)}`,
            !reliable || !record.explained,
          );
        }
        break;
      case 'violation':
        if (record.violation.e === e)
          step(record, line, `VIOLATION ${record.violation.invariant}: ${record.violation.message}`, true);
        break;
      case 'node':
        // A dispatcher that restarts forgets its forwards: a later ack with the same id is another's.
        if (record.op === 'down')
          for (const key of attempts.keys())
            if (key.startsWith(`forward\u0000${record.node}\u0000`)) attempts.delete(key);
        break;
      case 'trim':
      case 'conn':
      case 'lease':
      case 'fault':
      case 'due':
      case 'run':
      case 'end':
      case 'occupancy':
        break;
      default:
        unreachable(record);
    }
    if (offset < span.lastOffset) return true;
    extra++;
    return (pending.size > 0 || awaitingAcks()) && extra < extraMax && record.t <= span.lastT + extraUs;
  });

  function onSend(record: SendRecord, line: number): void {
    const { type } = record;
    if (type === 'forward-ack') {
      // It names only its forward's id, which every attempt of the forward shares.
      if (record.r !== undefined) ack(record, line, `forward\u0000${record.to}\u0000${record.r}`);
      return;
    }
    if (type === 'history-reply') {
      const h = record.h;
      if (record.topic !== topic || h === undefined || !('ok' in h) || !h.ok || h.fromSeq === undefined)
        return;
      const seq = covered(record.to, h.epoch, h.fromSeq, h.toSeq ?? h.fromSeq);
      if (seq !== null) hop(record, line, ` ${historyText(record)}, with it at seq ${seq}`);
      return;
    }
    if (record.e !== e) return;
    switch (type) {
      case 'deliver': {
        const at = record.seq === undefined ? '' : ` ${positionText(record.ep, record.seq)}`;
        if (record.r === undefined) {
          hop(record, line, at);
          return;
        }
        const key = `deliver\u0000${record.from}\u0000${record.to}\u0000${record.r}`;
        attempt(
          record,
          line,
          key,
          at,
          () => `after no ack in ${formatSpan(record.t - attempts.get(key)!.lastT)}`,
        );
        return;
      }
      case 'deliver-ack':
        if (record.r !== undefined)
          ack(record, line, `deliver\u0000${record.to}\u0000${record.from}\u0000${record.r}`);
        else hop(record, line, '');
        return;
      case 'forward': {
        if (record.r === undefined) {
          hop(record, line, '');
          return;
        }
        const key = `forward\u0000${record.from}\u0000${record.r}`;
        attempt(
          record,
          line,
          key,
          '',
          () => `after no ack in ${formatSpan(record.t - attempts.get(key)!.lastT)}`,
        );
        return;
      }
      case 'publish': {
        const key = `publish\u0000${record.from}`;
        attempt(record, line, key, '', () =>
          lastAnswer !== null && !lastAnswer.ok && lastAnswer.t >= attempts.get(key)!.lastT
            ? `after it was refused ${lastAnswer.code}`
            : `after no answer in ${formatSpan(record.t - attempts.get(key)!.lastT)}`,
        );
        return;
      }
      case 'store-request':
      case 'store-reply':
      case 'publish-reply':
      case 'subscribe':
      case 'renew':
      case 'unsubscribe':
      case 'lease-reply':
      case 'store-reset':
      case 'history-read':
      case 'occupancy':
        hop(record, line, '');
        return;
      default:
        unreachable(type);
    }
  }

  // Gap notices told after the stretch read (a frontend cut off until the history lost the event).
  const gaps = index.gaps;
  for (let i = 0; i < gaps.size; i++) {
    const notice = gaps.get(i);
    if (notice.offset <= scannedTo || notice.topic !== topic) continue;
    if (covered(notice.node, notice.ep, notice.from, notice.to) === null) continue;
    const record = index.recordAt(notice.offset, notice.line);
    if (record.k === 'gap') gap(record, notice.line);
  }
  for (const { draft } of pending.values()) {
    if (draft.ack?.endsWith('in flight')) draft.ack = draft.ack.replace('in flight', 'no fate in the trace');
    if (draft.fate === 'in flight') draft.fate = 'no fate in the trace';
  }
  const steps = drafts.map((draft): FollowStep => ({
    t: draft.t,
    line: draft.line,
    text: `${draft.head}${draft.fate === null ? '' : `: ${draft.fate}`}${draft.ack === null ? '' : `; ${draft.ack}`}`,
    bad: draft.bad,
  }));
  return topic === undefined
    ? { e, found: true, steps, violations }
    : { e, found: true, topic, steps, violations };
}
