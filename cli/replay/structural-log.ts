/**
 * The structural log: every change of the world's structure the trace records (a connection
 * opened, subscribed, unsubscribed or closed; a lease granted, renewed, removed or expired; a node
 * down or up) as a few integers, names interned. Replaying a stretch of it onto a state rebuilds
 * the subscription and lease tables at any checkpoint without reading the trace again.
 *
 * Entry `i` holds an operation, three names `a`, `b`, `c` (-1 for none) and an expiry (-1 for
 * none): a connection change is (op, connection, node, topic), a lease change (change, dc, topic,
 * frontend, expiry), a node change (op, node, node).
 */
import { unreachable } from '../../core/index.ts';
import { Column } from './column.ts';
import type { TraceRecord } from '../../sim/index.ts';
import type { ReplayState } from './replay-state.ts';
import type { StringTable } from './string-table.ts';

type Structural = Extract<TraceRecord, { k: 'conn' | 'lease' | 'node' }>;

const operations = {
  open: 1,
  close: 2,
  sub: 3,
  unsub: 4,
  refused: 5,
  down: 6,
  up: 7,
  granted: 8,
  renewed: 9,
  removed: 10,
  expired: 11,
} as const;
type Operation = keyof typeof operations;
const operationNames = Object.keys(operations) as Operation[];

export class StructuralLog {
  private count = 0;
  private readonly op = new Column('i32');
  private readonly a = new Column('i32');
  private readonly b = new Column('i32');
  private readonly c = new Column('i32');
  private readonly exp = new Column('f64');

  constructor(private readonly strings: StringTable) {}

  /** Entries logged so far. */
  get length(): number {
    return this.count;
  }

  /** Log the change a `conn`, `lease` or `node` record makes. */
  append(record: Structural): void {
    switch (record.k) {
      case 'conn':
        return this.push(record.op, record.c, record.node, record.topic);
      case 'lease':
        // A refused lease was never held: it changes nothing the screen shows.
        if (record.change === 'refused') return;
        return this.push(record.change, record.dc, record.topic, record.fe, record.exp);
      case 'node':
        return this.push(record.op, record.node, record.node, undefined);
      default:
        return unreachable(record);
    }
  }

  /** Apply entries `from` (inclusive) to `to` (exclusive) to `state`, in order. */
  replay(state: ReplayState, from: number, to: number): void {
    const name = (id: number): string => this.strings.text(id);
    for (let i = from; i < to; i++) {
      const op = operationNames[this.op.get(i) - 1]!;
      const c = this.c.get(i);
      switch (op) {
        case 'open':
        case 'close':
        case 'sub':
        case 'unsub':
        case 'refused':
          state.connection(op, name(this.a.get(i)), name(this.b.get(i)), c < 0 ? undefined : name(c));
          break;
        case 'down':
        case 'up':
          state.liveness(name(this.a.get(i)), op);
          break;
        case 'granted':
        case 'renewed':
        case 'removed':
        case 'expired': {
          const exp = this.exp.get(i);
          state.lease(name(this.a.get(i)), name(this.b.get(i)), name(c), op, exp < 0 ? undefined : exp);
          break;
        }
        default:
          unreachable(op);
      }
    }
  }

  /** Bytes held in typed arrays. */
  bytes(): number {
    return this.op.bytes() + this.a.bytes() + this.b.bytes() + this.c.bytes() + this.exp.bytes();
  }

  private push(op: Operation, a: string, b: string, c: string | undefined, exp?: number): void {
    const i = this.count++;
    this.op.set(i, operations[op]);
    this.a.set(i, this.strings.intern(a));
    this.b.set(i, this.strings.intern(b));
    this.c.set(i, c === undefined ? -1 : this.strings.intern(c));
    this.exp.set(i, exp ?? -1);
  }
}
