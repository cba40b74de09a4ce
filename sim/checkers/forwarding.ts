/**
 * The forwarding checker: cross-datacenter traffic stays one copy per event per datacenter.
 *
 * - forward discipline: a dispatcher forwards an event to a peer datacenter again only after the
 *   previous attempt went unacknowledged for `forwardTimeoutMs`, and never once one was
 *   acknowledged. Frontends dedupe, so viewers never see a breach: only this checker does.
 *
 * An attempt is known by the forward id its acknowledgement echoes; an acknowledgement counts when
 * it is received, not when it is sent. An event's attempts are forgotten when the event is past its
 * retention (events.ts): a retry comes within `forwardAttemptsMax` timeouts, well before.
 */
import { usOfMs, type DcId, type EventId, type NodeId, type RequestId, type Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Topology } from '../topology.ts';
import type { ViolationLog } from './violations.ts';

interface Forwarded {
  lastSentUs: Us;
  acked: boolean;
}

export class ForwardingChecker {
  disciplineErrors = 0;
  /** `dispatcher, event, peer dc` -> the last attempt and whether any was acknowledged. */
  private readonly forwards = new Map<string, Forwarded>();
  /** `dispatcher, forward id` -> the key of `forwards` it belongs to. */
  private readonly attempts = new Map<string, string>();
  /** Event -> its keys in `forwards` and `attempts` (which never collide: a forward's has two separators, an attempt's one). */
  private readonly keysOf = new Map<EventId, string[]>();

  constructor(
    private readonly forwardTimeoutUs: Us,
    private readonly topology: Topology,
    private readonly violations: ViolationLog,
  ) {}

  apply(fact: Fact): void {
    if (fact.kind !== 'sent' && fact.kind !== 'received') return;
    const { type, e, from, to, forwardId } = fact.message;
    if (forwardId === undefined) return;
    if (fact.kind === 'sent' && type === 'forward' && e !== undefined)
      this.sent(from, e, this.topology.dcOf(to), forwardId, fact.t);
    else if (fact.kind === 'received' && type === 'forward-ack') this.acked(to, forwardId);
  }

  /** Attempts kept, for tests of the retention. */
  get held(): number {
    return this.attempts.size;
  }

  /** The event is past its retention: forget its attempts. */
  forget(e: EventId): void {
    for (const key of this.keysOf.get(e) ?? []) {
      this.forwards.delete(key);
      this.attempts.delete(key);
    }
    this.keysOf.delete(e);
  }

  private sent(dispatcher: NodeId, e: EventId, dc: DcId, forwardId: RequestId, t: Us): void {
    const key = `${dispatcher}\u0000${e}\u0000${dc}`;
    const attempt = `${dispatcher}\u0000${forwardId}`;
    this.attempts.set(attempt, key);
    let keys = this.keysOf.get(e);
    if (keys === undefined) this.keysOf.set(e, (keys = []));
    keys.push(attempt);
    const previous = this.forwards.get(key);
    if (previous === undefined) keys.push(key);
    // Roles keep time in whole milliseconds, so a timeout may fire up to 1 ms early in microseconds.
    const earliestRetryUs =
      previous === undefined ? 0 : previous.lastSentUs + this.forwardTimeoutUs - usOfMs(1);
    if (previous !== undefined && (previous.acked || t < earliestRetryUs)) {
      this.disciplineErrors++;
      const why = previous.acked
        ? 'after the datacenter had acknowledged it'
        : `${((t - previous.lastSentUs) / usOfMs(1)).toFixed(3)} ms after the previous attempt, before it could time out`;
      this.violations.report(
        'forward-discipline',
        t,
        `${dispatcher} forwarded event ${e} to ${dc} again ${why}`,
        {
          e,
          node: dispatcher,
        },
      );
    }
    this.forwards.set(key, { lastSentUs: t, acked: previous?.acked ?? false });
  }

  private acked(dispatcher: NodeId, forwardId: RequestId): void {
    const key = this.attempts.get(`${dispatcher}\u0000${forwardId}`);
    const entry = key === undefined ? undefined : this.forwards.get(key);
    if (entry !== undefined) entry.acked = true;
  }
}
