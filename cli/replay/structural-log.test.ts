// Goal: replaying the structural log rebuilds connections, subscriptions, leases and liveness
// exactly as applying the trace's records does, from the start or from any entry on.
// Method: the conn, lease and node records of a real simulator run (test-traces.ts) logged, then
// replayed in stretches onto a state and compared with the records applied one by one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../sim/index.ts';
import type { RunRecord } from './index-pass.ts';
import { ReplayState } from './replay-state.ts';
import { StringTable } from './string-table.ts';
import { StructuralLog } from './structural-log.ts';
import { readRecords, writeTestTrace } from './test-traces.ts';

let dir: string;
let records: TraceRecord[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-log-'));
  records = readRecords(writeTestTrace(dir, 'faulty').path);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Structural = Extract<TraceRecord, { k: 'conn' | 'lease' | 'node' }>;
const isStructural = (r: TraceRecord): r is Structural => r.k === 'conn' || r.k === 'lease' || r.k === 'node';

/** What a state holds of the world's structure, as plain values. */
function structureOf(state: ReplayState): unknown {
  const topics = ['likes-1', 'likes-2'];
  return {
    nodes: state.nodeViews(),
    subscribers: state.nodes.map((node) => topics.map((topic) => state.subscribersOf(node.id, topic))),
  };
}

describe('the structural log', () => {
  it('logs one entry per conn, lease and node record, and nothing else', () => {
    const log = new StructuralLog(new StringTable());
    const structural = records.filter(isStructural);
    for (const record of structural) log.append(record);
    expect(log.length).toBe(structural.length);
    expect(structural.map((r) => r.k)).toEqual(expect.arrayContaining(['conn', 'lease', 'node']));
  });

  it('replayed in stretches, rebuilds what applying the records builds', () => {
    const nodes = (records[0] as RunRecord).nodes;
    const log = new StructuralLog(new StringTable());
    const applied = new ReplayState(nodes);
    const replayed = new ReplayState(nodes);
    let from = 0;
    for (const record of records.filter(isStructural)) {
      log.append(record);
      applied.apply(record);
      // Replay every seventh entry, so stretches of several entries are replayed at once.
      if (log.length % 7 === 0) {
        log.replay(replayed, from, log.length);
        from = log.length;
        expect(structureOf(replayed)).toEqual(structureOf(applied));
      }
    }
    log.replay(replayed, from, log.length);
    expect(structureOf(replayed)).toEqual(structureOf(applied));
    expect(replayed.nodeCounts()).toEqual(applied.nodeCounts());
  });
});
