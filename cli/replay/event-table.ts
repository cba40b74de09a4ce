/**
 * The event table: per event id, the byte offsets and times of its first record (its publish) and
 * its last record, so following one event reads only the stretch of the trace between them. Ids
 * are numbered in publish order; the offsets and times are typed-array columns.
 */
import { Column } from './column.ts';

/** Where an event's records lie in the trace. */
export interface EventSpan {
  firstOffset: number;
  firstT: number;
  lastOffset: number;
  lastT: number;
}

export class EventTable {
  private readonly ids = new Map<string, number>();
  private readonly firstOffset = new Column('f64');
  private readonly firstT = new Column('f64');
  private readonly lastOffset = new Column('f64');
  private readonly lastT = new Column('f64');

  /**
   * Note a record naming event `e`, starting at byte `offset`, at time `t`. Only a publish starts
   * an event: a record naming an event never published (a forged id) is not kept.
   */
  note(e: string, isPublish: boolean, offset: number, t: number): void {
    let id = this.ids.get(e);
    if (id === undefined) {
      if (!isPublish) return;
      id = this.ids.size;
      this.ids.set(e, id);
      this.firstOffset.set(id, offset);
      this.firstT.set(id, t);
    }
    this.lastOffset.set(id, offset);
    this.lastT.set(id, t);
  }

  has(e: string): boolean {
    return this.ids.has(e);
  }

  /** Number of distinct events published. */
  get size(): number {
    return this.ids.size;
  }

  /** Where event `e`'s records lie, or null if the trace has no such event. */
  span(e: string): EventSpan | null {
    const id = this.ids.get(e);
    if (id === undefined) return null;
    return {
      firstOffset: this.firstOffset.get(id),
      firstT: this.firstT.get(id),
      lastOffset: this.lastOffset.get(id),
      lastT: this.lastT.get(id),
    };
  }

  /** When the first event was published, or null if the trace has no publish. */
  firstPublishTime(): number | null {
    return this.ids.size === 0 ? null : this.firstT.get(0);
  }

  /** When event `e` was published, or null if the trace has no such event. */
  publishTime(e: string): number | null {
    const id = this.ids.get(e);
    return id === undefined ? null : this.firstT.get(id);
  }

  /** Bytes held in typed arrays. */
  bytes(): number {
    return this.firstOffset.bytes() * 4;
  }
}
