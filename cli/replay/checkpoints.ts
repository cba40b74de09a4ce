/**
 * Checkpoints: what lets any view start reading the trace close to where it looks instead of at
 * its beginning. The index takes one every `checkpointEvery` records (4,096 by default) and after
 * the `run` line; each holds the byte offset and line of the next record, the time reached, the
 * counters, the faults in force, how much of the structural log was applied, and per node its
 * (alive, connections, topics, leases) counts.
 *
 * A checkpoint does not hold the subscription and lease tables (they grow with the viewers):
 * `restore` rebuilds them by replaying the structural log. So that a rebuild never replays more
 * than a bounded stretch of the log, the full tables are kept, as flat arrays of interned ids, at
 * a checkpoint whenever `structureEvery` entries have been logged since the last ones kept.
 */
import type { FaultSpans } from './fault-spans.ts';
import type { TopologyNode } from '../../sim/index.ts';
import { type Counters, ReplayState, type Structure } from './replay-state.ts';
import type { StringTable } from './string-table.ts';
import type { StructuralLog } from './structural-log.ts';

export interface Checkpoint {
  /** Byte offset and 1-based line number of the first record not yet applied. */
  offset: number;
  line: number;
  /** Records applied (the `run` line included) and the time of the last one. */
  records: number;
  t: number;
  counters: Counters;
  faults: number[];
  /** Entries of the structural log applied. */
  structural: number;
  /** Per node: alive, connections, topics, leases. */
  nodeCounts: Int32Array;
}

export interface CheckpointsOptions {
  structureEvery: number;
  log: StructuralLog;
  strings: StringTable;
  faults: FaultSpans;
}

export class Checkpoints {
  /** In trace order: times and offsets ascend. */
  readonly list: Checkpoint[] = [];
  /** Full structures at some checkpoints (ascending `k`). */
  private readonly structures: { k: number; structure: Structure }[] = [];

  constructor(private readonly options: CheckpointsOptions) {}

  /** Keep a checkpoint of `state`, whose next record starts at byte `offset`, line `line`. */
  take(state: ReplayState, offset: number, line: number): void {
    const { log, strings, structureEvery } = this.options;
    const since = this.structures.at(-1)?.k;
    const last = since === undefined ? 0 : this.list[since]!.structural;
    if (log.length - last >= structureEvery) {
      this.structures.push({
        k: this.list.length,
        structure: state.exportStructure((text) => strings.intern(text)),
      });
    }
    this.list.push({
      offset,
      line,
      records: state.records,
      t: state.t,
      counters: { ...state.counters },
      faults: [...state.faults.keys()],
      structural: log.length,
      nodeCounts: state.nodeCounts(),
    });
  }

  /** The checkpoint to start from for time `t`: the last one whose applied records are all at or before `t`. */
  forTime(t: number): number {
    return this.lastWhere((checkpoint) => checkpoint.t <= t);
  }

  /** The last checkpoint at or before byte `offset`. */
  atOffset(offset: number): number {
    return this.lastWhere((checkpoint) => checkpoint.offset <= offset);
  }

  /**
   * The full state at checkpoint `k`: the structure kept at or before it, the structural log
   * replayed from there, counters and faults from the checkpoint.
   */
  restore(k: number, nodes: readonly TopologyNode[]): ReplayState {
    const { log, strings, faults } = this.options;
    const checkpoint = this.list[k]!;
    const base = this.structures.findLast((kept) => kept.k <= k);
    const state = base
      ? ReplayState.fromStructure(nodes, base.structure, (id) => strings.text(id))
      : new ReplayState(nodes);
    log.replay(state, base ? this.list[base.k]!.structural : 0, checkpoint.structural);
    state.records = checkpoint.records;
    state.t = checkpoint.t;
    state.counters = { ...checkpoint.counters };
    for (const f of checkpoint.faults) state.faults.set(f, faults.get(f).fault);
    return state;
  }

  /** How many full structures are kept. */
  get structuresKept(): number {
    return this.structures.length;
  }

  /** About how many bytes the checkpoints and kept structures hold, for `nodeCount` nodes. */
  bytes(nodeCount: number): number {
    return (
      this.list.length * (64 + nodeCount * 16) +
      this.structures.reduce(
        (sum, { structure: x }) =>
          sum +
          x.alive.byteLength +
          x.connections.byteLength +
          x.subscribers.byteLength +
          x.leases.byteLength,
        0,
      )
    );
  }

  /** Binary search: the last checkpoint for which `before` holds (it holds for a prefix; 0 if for none). */
  private lastWhere(before: (checkpoint: Checkpoint) => boolean): number {
    let low = 0;
    let high = this.list.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (before(this.list[mid]!)) low = mid;
      else high = mid - 1;
    }
    return low;
  }
}
