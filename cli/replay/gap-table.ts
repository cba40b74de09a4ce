/**
 * The gap notices of a reliable trace: per `gap` record its time, byte offset and line, and what
 * it covers (frontend, topic, epoch, seqs), in typed-array columns with names interned. A notice
 * may come long after the events it covers (a frontend cut off until the history trimmed them), so
 * following an event finds the notices that cover it here rather than by reading on; the
 * timeline marks them. A trace holds few: a notice is told once per frontend, topic and loss.
 */
import type { TraceRecord } from '../../sim/index.ts';
import { Column } from './column.ts';
import type { StringTable } from './string-table.ts';

/** A gap notice as the table keeps it; `to` null: the rest of the epoch. */
export interface GapEntry {
  t: number;
  offset: number;
  line: number;
  node: string;
  topic: string;
  ep: number;
  from: number;
  to: number | null;
}

export class GapTable {
  private readonly t = new Column('f64');
  private readonly offset = new Column('f64');
  private readonly line = new Column('f64');
  private readonly node = new Column('i32');
  private readonly topic = new Column('i32');
  private readonly ep = new Column('f64');
  private readonly from = new Column('f64');
  /** -1 for null. */
  private readonly to = new Column('f64');
  private count = 0;

  constructor(private readonly strings: StringTable) {}

  note(record: Extract<TraceRecord, { k: 'gap' }>, offset: number, line: number): void {
    const i = this.count++;
    this.t.set(i, record.t);
    this.offset.set(i, offset);
    this.line.set(i, line);
    this.node.set(i, this.strings.intern(record.node));
    this.topic.set(i, this.strings.intern(record.topic));
    this.ep.set(i, record.ep);
    this.from.set(i, record.from);
    this.to.set(i, record.to ?? -1);
  }

  get size(): number {
    return this.count;
  }

  /** The time of the `i`th notice, for the timeline. */
  timeOf(i: number): number {
    return this.t.get(i);
  }

  get(i: number): GapEntry {
    const to = this.to.get(i);
    return {
      t: this.t.get(i),
      offset: this.offset.get(i),
      line: this.line.get(i),
      node: this.strings.text(this.node.get(i)),
      topic: this.strings.text(this.topic.get(i)),
      ep: this.ep.get(i),
      from: this.from.get(i),
      to: to < 0 ? null : to,
    };
  }

  /** Bytes held in typed arrays. */
  bytes(): number {
    return this.t.bytes() * 6 + this.node.bytes() * 2;
  }
}
