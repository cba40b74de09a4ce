/**
 * The faults of a trace, each with when it started and ended (null: it never ended) and the line
 * of its start, kept whole: a trace holds a handful of faults, and the timeline, the faults in force
 * and every drop or loss that names one by number need them at hand.
 */
import { assert } from '../../core/index.ts';
import { describeFault } from './format.ts';
import type { Fault, TraceRecord } from './records.ts';

export interface FaultSpan {
  f: number;
  fault: Fault;
  start: number;
  end: number | null;
  line: number;
}

export class FaultSpans {
  /** In the order they started. */
  readonly list: FaultSpan[] = [];
  private readonly byNumber = new Map<number, FaultSpan>();

  /**
   * Note a `fault` record on line `line`. Returns false for the end of a fault that never started
   * (the caller names the line).
   */
  note(record: Extract<TraceRecord, { k: 'fault' }>, line: number): boolean {
    if (record.phase === 'start') {
      const span: FaultSpan = { f: record.f, fault: record.fault, start: record.t, end: null, line };
      this.list.push(span);
      this.byNumber.set(record.f, span);
      return true;
    }
    const span = this.byNumber.get(record.f);
    if (!span) return false;
    span.end = record.t;
    return true;
  }

  /** The fault numbered `f`; it started (checkpoints and states only name faults that did). */
  get(f: number): FaultSpan {
    const span = this.byNumber.get(f);
    assert(span !== undefined, `fault #${f} is in force but never started`);
    return span;
  }

  /** `fault #2 partition dc-a | dc-b`, or `fault #2` for a number the trace never started. */
  name(f: number): string {
    const span = this.byNumber.get(f);
    return span ? `fault #${f} ${describeFault(span.fault)}` : `fault #${f}`;
  }
}
