/**
 * The forwarding checker: cross-datacenter traffic stays one copy per event per datacenter, and a
 * forward that was due to be retried is retried on time.
 *
 * - forward discipline: a dispatcher forwards an event to a peer datacenter again only after the
 *   previous attempt went unacknowledged for `forwardTimeoutMs`, and never once one was
 *   acknowledged. Frontends dedupe, so viewers never see a breach: only this checker does. A
 *   publisher's retry with the same id is a new publish: the dispatcher that accepts it again may
 *   forward it afresh, once per acceptance, under a new forward id and whenever that forward
 *   leaves (after its own append, so possibly after the first acceptance's forward was
 *   acknowledged): it cannot know the first acceptance's forwards were made.
 * - timely retry: an attempt not acknowledged within `forwardTimeoutMs` is followed, at that
 *   deadline (give or take the millisecond roles round time to), by the next attempt or by the
 *   dispatcher giving up (`forward-exhausted`; in reliable mode `forward-expired`, at the end of its
 *   forwarding window) — unless the dispatcher died first. A retry handled
 *   seconds after its deadline would otherwise pass as a loss explained by the drop it repaired late.
 *
 * An attempt is known by the forward id its acknowledgement echoes (within the dispatcher's
 * incarnation: a restarted one numbers them afresh); an acknowledgement counts when it is
 * received, not when it is sent. An event's attempts are forgotten when the event is past its
 * retention (events.ts): a retry comes within `forwardAttemptsMax` timeouts, well before.
 */
import { usOfMs, type DcId, type EventId, type NodeId, type RequestId, type Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Topology } from '../topology.ts';
import { fmt } from './time.ts';
import type { ViolationLog } from './violations.ts';

interface Forwarded {
  lastSentUs: Us;
  acked: boolean;
  /** Acceptances again of the event not yet followed by their fresh forward. */
  reaccepts: number;
}

/** An attempt awaiting its acknowledgement, its next attempt, or its dispatcher giving up. */
interface Awaited {
  dispatcher: NodeId;
  forwardId: RequestId;
  e: EventId;
  dc: DcId;
  sentUs: Us;
  settled: boolean;
}

/** Roles keep time in whole milliseconds: a deadline may be handled up to this late in microseconds. */
const roundingUs = usOfMs(1);

export class ForwardingChecker {
  disciplineErrors = 0;
  timelinessErrors = 0;
  /** Attempts in the order they were sent, which is the order they fall due (one timeout for all). */
  private readonly awaited: Awaited[] = [];
  private awaitedHead = 0;
  /** `dispatcher, forward id` -> its latest attempt still awaited. */
  private readonly awaitedById = new Map<string, Awaited>();
  /** `dispatcher, event, peer dc` -> the last attempt and whether any was acknowledged. */
  private readonly forwards = new Map<string, Forwarded>();
  /** `dispatcher, forward id` -> the key of `forwards` it belongs to. */
  private readonly attempts = new Map<string, string>();
  /** Event -> its keys in `forwards` and `attempts` (which never collide: a forward's has two separators, an attempt's one). */
  private readonly keysOf = new Map<EventId, string[]>();

  constructor(
    private readonly forwardTimeoutUs: Us,
    /** How late a real process' timer may fire and its send be recorded (0 in the simulator): both bounds widen by it. */
    private readonly timerSlackUs: Us,
    private readonly topology: Topology,
    private readonly violations: ViolationLog,
  ) {}

  apply(fact: Fact): void {
    this.judgeOverdue(fact.t);
    if (
      fact.kind === 'role-drop' &&
      (fact.reason === 'forward-exhausted' || fact.reason === 'forward-expired')
    ) {
      for (const attempt of this.awaitedById.values())
        if (attempt.dispatcher === fact.node && attempt.e === fact.e && attempt.dc === fact.dc)
          this.settle(attempt);
      return;
    }
    if (fact.kind === 'published') {
      this.acceptedAgain(fact.node, fact.event.id);
      return;
    }
    if (fact.kind === 'node' && fact.op === 'down') {
      for (const attempt of this.awaitedById.values())
        if (attempt.dispatcher === fact.node) this.settle(attempt);
      this.forgetDispatcher(fact.node);
      return;
    }
    if (fact.kind !== 'sent' && fact.kind !== 'received') return;
    const { type, e, from, to, forwardId } = fact.message;
    if (forwardId === undefined) return;
    if (fact.kind === 'sent' && type === 'forward' && e !== undefined) {
      const dc = this.topology.dcOf(to);
      this.sent(from, e, dc, forwardId, fact.t);
      this.await(from, forwardId, e, dc, fact.t);
    } else if (fact.kind === 'received' && type === 'forward-ack') {
      this.acked(to, forwardId);
      const attempt = this.awaitedById.get(`${to}\u0000${forwardId}`);
      if (attempt !== undefined) this.settle(attempt);
    }
  }

  /** Every attempt whose deadline (and its rounding) passed before `now` must have been settled. */
  private judgeOverdue(now: Us): void {
    while (this.awaitedHead < this.awaited.length) {
      const attempt = this.awaited[this.awaitedHead] as Awaited;
      const dueUs = attempt.sentUs + this.forwardTimeoutUs + this.timerSlackUs;
      if (dueUs + roundingUs >= now) break;
      this.awaitedHead++;
      if (attempt.settled) continue;
      this.settle(attempt);
      this.timelinessErrors++;
      this.violations.report(
        'timely-retry',
        now,
        `${attempt.dispatcher} forwarded event ${attempt.e} to ${attempt.dc} at ${fmt(attempt.sentUs)} without an acknowledgement, and by ${fmt(now)} had neither retried nor given up (due at ${fmt(dueUs)})`,
        { e: attempt.e, node: attempt.dispatcher },
      );
    }
    // The queue's settled front is let go now and then, so it holds only what may still fall due.
    if (this.awaitedHead > 1_024 && this.awaitedHead * 2 > this.awaited.length) {
      this.awaited.splice(0, this.awaitedHead);
      this.awaitedHead = 0;
    }
  }

  private await(dispatcher: NodeId, forwardId: RequestId, e: EventId, dc: DcId, t: Us): void {
    const key = `${dispatcher}\u0000${forwardId}`;
    const previous = this.awaitedById.get(key);
    if (previous !== undefined) this.settle(previous);
    const attempt: Awaited = { dispatcher, forwardId, e, dc, sentUs: t, settled: false };
    this.awaited.push(attempt);
    this.awaitedById.set(key, attempt);
  }

  private settle(attempt: Awaited): void {
    attempt.settled = true;
    const key = `${attempt.dispatcher}\u0000${attempt.forwardId}`;
    if (this.awaitedById.get(key) === attempt) this.awaitedById.delete(key);
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
    const newId = !this.attempts.has(attempt);
    this.attempts.set(attempt, key);
    let keys = this.keysOf.get(e);
    if (keys === undefined) this.keysOf.set(e, (keys = []));
    keys.push(attempt);
    const previous = this.forwards.get(key);
    if (previous === undefined) keys.push(key);
    // An acceptance again forwards afresh under a new id, whatever became of the earlier forwards.
    if (previous !== undefined && previous.reaccepts > 0 && newId) {
      this.forwards.set(key, { lastSentUs: t, acked: false, reaccepts: previous.reaccepts - 1 });
      return;
    }
    // Roles keep time in whole milliseconds, so a timeout may fire up to 1 ms early in microseconds;
    // a real process records a send up to its timer slack after deciding it, so a retry may seem early by that.
    const earliestRetryUs =
      previous === undefined
        ? 0
        : previous.lastSentUs + this.forwardTimeoutUs - usOfMs(1) - this.timerSlackUs;
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
    this.forwards.set(key, {
      lastSentUs: t,
      acked: previous?.acked ?? false,
      reaccepts: previous?.reaccepts ?? 0,
    });
  }

  /**
   * `dispatcher` died: what it forwarded is forgotten with it. Its next incarnation forwards only
   * what it accepts (again), and numbers its forwards afresh, so its ids say nothing of the old ones.
   */
  private forgetDispatcher(dispatcher: NodeId): void {
    const prefix = `${dispatcher}\u0000`;
    for (const key of this.forwards.keys()) if (key.startsWith(prefix)) this.forwards.delete(key);
    for (const key of this.attempts.keys()) if (key.startsWith(prefix)) this.attempts.delete(key);
  }

  /** `dispatcher` accepted a publish of `e` (again, on a retry): it may forward `e` afresh once more. */
  private acceptedAgain(dispatcher: NodeId, e: EventId): void {
    const prefix = `${dispatcher}\u0000${e}\u0000`;
    for (const key of this.keysOf.get(e) ?? []) {
      const entry = key.startsWith(prefix) ? this.forwards.get(key) : undefined;
      if (entry !== undefined) entry.reaccepts++;
    }
  }

  private acked(dispatcher: NodeId, forwardId: RequestId): void {
    const key = this.attempts.get(`${dispatcher}\u0000${forwardId}`);
    const entry = key === undefined ? undefined : this.forwards.get(key);
    if (entry !== undefined) entry.acked = true;
  }
}
