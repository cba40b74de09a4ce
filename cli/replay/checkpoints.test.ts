// Goal: a checkpoint restores the whole world as it stood there, subscribers in their order
// included, whether the tables are rebuilt from the start of the structural log or from full
// structures kept on the way; and the right checkpoint is found for a time or a byte offset.
// Method: a real simulator run (test-traces.ts) indexed with small checkpoint spacing, each
// checkpoint restored and compared with the naive reading up to it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NaiveReplay, readTrace, type ReadTrace, seeded, writeTestTrace } from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let path: string;
let read: ReadTrace;
let index: TraceIndex;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-checkpoints-'));
  path = writeTestTrace(dir, 'faulty').path;
  read = readTrace(path);
  index = new TraceIndex(path, { checkpointEvery: 37 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkpoints', () => {
  it('restoring any checkpoint gives back its snapshot and its subscribers in order, with or without kept structures', () => {
    const withStructures = new TraceIndex(path, { checkpointEvery: 37, structureEvery: 10 });
    expect(withStructures.held().structures).toBeGreaterThan(3);
    expect(index.held().structures).toBe(0);
    const frontends = index.nodes.filter((node) => node.role === 'frontend').map((node) => node.id);
    const naive = new NaiveReplay(read);
    for (const [k, checkpoint] of index.checkpoints.entries()) {
      const expected = naive.until(checkpoint.records);
      for (const restored of [index.restore(k), withStructures.restore(k)]) {
        expect([...restored.nodeCounts()], `checkpoint ${k}`).toEqual([...checkpoint.nodeCounts]);
        expect(restored.counters).toEqual(checkpoint.counters);
        expect([...restored.faults.keys()]).toEqual([...expected.faults.keys()]);
        for (const fe of frontends) {
          for (const topic of ['likes-1', 'likes-2']) {
            expect(restored.subscribersOf(fe, topic), `${fe} ${topic} at ${k}`).toEqual(
              expected.subscribersOf(fe, topic),
            );
          }
        }
      }
    }
  });

  it('the checkpoint for a time is the last whose records are all at or before it', () => {
    const random = seeded(3);
    for (let i = 0; i < 50; i++) {
      const t = Math.floor(random() * index.endT);
      const k = index.checkpointFor(t);
      expect(index.checkpoints[k]!.t).toBeLessThanOrEqual(t);
      if (k + 1 < index.checkpoints.length) expect(index.checkpoints[k + 1]!.t).toBeGreaterThan(t);
    }
    expect(index.checkpointFor(index.endT)).toBe(index.checkpoints.length - 1);
  });

  it('the checkpoint at a byte offset is the last at or before it', () => {
    for (const [k, checkpoint] of index.checkpoints.entries()) {
      expect(index.checkpointAtOffset(checkpoint.offset)).toBe(k);
      if (k > 0) expect(index.checkpointAtOffset(checkpoint.offset - 1)).toBe(k - 1);
    }
  });
});
