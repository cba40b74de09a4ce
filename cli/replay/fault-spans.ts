/**
 * The faults of a trace, each with when it started and ended (null: it never ended) and the line
 * of its start, kept whole: a trace holds a handful of faults, and the timeline, the faults in force
 * and every drop or loss that names one by number need them at hand.
 */
import { assert } from '../../core/index.ts';
import { describeFault, type Fault, type TraceRecord } from '../../sim/index.ts';

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

  /** Note a `fault` record on line `line` (the trace reader has seen that a fault ends only after it started). */
  note(record: Extract<TraceRecord, { k: 'fault' }>, line: number): void {
    if (record.phase === 'start') {
      const span: FaultSpan = { f: record.f, fault: record.fault, start: record.t, end: null, line };
      this.list.push(span);
      this.byNumber.set(record.f, span);
      return;
    }
    const span = this.byNumber.get(record.f);
    assert(span !== undefined, `fault #${record.f} ends but never started`);
    span.end = record.t;
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
    return span ? `fault #${f} ${describeFault(span.fault, { durations: false })}` : `fault #${f}`;
  }
}
