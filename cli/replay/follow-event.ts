/**
 * One event's path through the world, as the trace has it: its publish, every message that carried
 * or served it with that message's fate, the frontends that delivered it and to which connections,
 * the drops and losses with their reasons and faults, and the violations that name it.
 *
 * It reads from the checkpoint before the event's publish to its last record, and a little past
 * that while a message that carries it has no fate yet (at most four checkpoints' worth of records
 * or 10 simulated seconds more).
 */
import { unreachable, type MessageType } from '../../core/index.ts';
import { formatDelay } from './format.ts';
import type { ViolationEntry } from './index-pass.ts';
import type { TraceIndex } from './trace-index.ts';

export interface FollowStep {
  t: number;
  line: number;
  text: string;
  /** Something went wrong here: a drop, a loss, a violation. */
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
function hopLabel(type: MessageType): string {
  switch (type) {
    case 'store-request':
      return 'store lookup';
    case 'store-reply':
      return 'store answer';
    case 'forward':
      return 'cross-DC forward';
    case 'deliver':
      return 'to frontend';
    case 'deliver-ack':
      return 'delivery ack';
    case 'history-read':
      return 'history read';
    case 'history-reply':
      return 'history answer';
    case 'forward-ack':
    case 'publish':
    case 'publish-reply':
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
    case 'lease-reply':
    case 'store-reset':
      return type;
    default:
      return unreachable(type);
  }
}

export function followEvent(index: TraceIndex, e: string): Followed {
  const violations = index.violations.filter((v) => v.violation.e === e);
  const span = index.eventSpan(e);
  if (span === null) return { e, found: false, steps: [], violations };
  const k = index.checkpointAtOffset(span.firstOffset);
  const state = index.restore(k);
  const steps: FollowStep[] = [];
  const pending = new Map<number, FollowStep>();
  let topic: string | undefined;
  let extra = 0;
  const extraMax = index.checkpointEvery * 4;
  const fault = (f: number | undefined): string => (f === undefined ? '' : ` (${index.faultName(f)})`);
  index.scan(k, state, (record, line, offset) => {
    if (offset < span.firstOffset) return true;
    const at = (text: string, bad = false): void => {
      steps.push({ t: record.t, line, text, bad });
    };
    switch (record.k) {
      case 'publish':
        if (record.e === e) {
          topic = record.topic;
          at(`published on ${record.topic} at ${record.node} (origin ${record.origin}, ${record.bytes} B)`);
        }
        break;
      case 'send':
        if (record.e === e) {
          const step: FollowStep = {
            t: record.t,
            line,
            text: `${record.from} -> ${record.to} ${hopLabel(record.type)} #${record.m}: in flight`,
            bad: false,
          };
          steps.push(step);
          pending.set(record.m, step);
        }
        break;
      case 'recv': {
        const step = pending.get(record.m);
        if (step) {
          step.text = step.text.replace(': in flight', `: arrived ${formatDelay(record.t - step.t)}`);
          pending.delete(record.m);
        }
        break;
      }
      case 'drop': {
        const step = pending.get(record.m);
        if (step) {
          step.text = step.text.replace(
            ': in flight',
            `: DROPPED ${formatDelay(record.t - step.t)}, ${record.why}${fault(record.f)}`,
          );
          step.bad = true;
          pending.delete(record.m);
        }
        break;
      }
      case 'role-drop':
        if (record.e === e)
          at(`${record.node} gave up: ${record.why}${record.dc ? ` (for ${record.dc})` : ''}`, true);
        break;
      case 'deliver':
        if (record.e === e) {
          const recipients = state.recipients(record);
          const shown = recipients.slice(0, 6).join(' ');
          const more = recipients.length > 6 ? ` +${recipients.length - 6} more` : '';
          at(
            `${record.node} delivered to ${record.n} connection${record.n === 1 ? '' : 's'}: ${shown}${more}`,
          );
        }
        break;
      case 'client-drop':
        if (record.e === e)
          at(`${record.node} lost the batch for ${record.n} connections: ${record.why}`, true);
        break;
      case 'loss':
        if (record.e === e) {
          at(
            `LOST ${record.n} deliver${record.n === 1 ? 'y' : 'ies'} at ${record.node ?? 'unknown frontend'}: ${record.cause}, ${record.explained ? 'explained' : 'UNEXPLAINED'}${fault(record.f)}`,
            true,
          );
        }
        break;
      case 'violation':
        if (record.violation.e === e)
          at(`VIOLATION ${record.violation.invariant}: ${record.violation.message}`, true);
        break;
      case 'append':
        if (record.e === e)
          at(
            `${record.dc}/store ${record.dup === true ? 'already held it' : 'appended it'} at seq ${record.seq} of epoch ${record.ep}`,
          );
        break;
      case 'answer':
        if (record.e === e)
          at(
            record.ok
              ? `${record.dc}/publisher was answered OK${record.w === undefined ? '' : ` with warning ${record.w}`}`
              : `${record.dc}/publisher was refused: ${record.code}`,
            !record.ok,
          );
        break;
      case 'gap':
        if (record.e === e)
          at(
            `${record.node} told ${record.n} connection${record.n === 1 ? '' : 's'} seq ${record.from} of epoch ${record.ep} holds it again (${record.why}): not given twice`,
          );
        break;
      case 'trim':
      case 'conn':
      case 'lease':
      case 'node':
      case 'fault':
      case 'fanout':
      case 'due':
      case 'run':
      case 'end':
        break;
      default:
        unreachable(record);
    }
    if (offset < span.lastOffset) return true;
    extra++;
    return pending.size > 0 && extra < extraMax && record.t <= span.lastT + 10_000_000;
  });
  for (const step of pending.values()) step.text = step.text.replace(': in flight', ': no fate in the trace');
  return topic === undefined
    ? { e, found: true, steps, violations }
    : { e, found: true, topic, steps, violations };
}
