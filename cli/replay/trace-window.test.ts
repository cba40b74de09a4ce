// Goal: the records listed around a time are exactly those a full reading finds there, with and
// without a filter, each `recv` and `drop` naming its message's hop and event.
// Method: a real simulator run (test-traces.ts) indexed and compared at seeded random times with
// a naive reading that keeps every record.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matches, parseFilter } from './filter.ts';
import type { SendInfo } from './format.ts';
import type { TraceRecord } from '../../sim/index.ts';
import type { RunRecord } from './index-pass.ts';
import { ReplayState } from './replay-state.ts';
import { readRecords, seeded, writeTestTrace } from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let path: string;
let records: TraceRecord[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-window-'));
  path = writeTestTrace(dir, 'faulty').path;
  records = readRecords(path);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A connection that subscribed to a topic and stayed long enough to receive deliveries. */
function subscribedConnection(): string {
  const subscribed = records.filter((r) => r.k === 'conn' && r.op === 'sub');
  return (subscribed[subscribed.length >> 1] as Extract<TraceRecord, { k: 'conn' }>).c;
}

describe('the records around a time', () => {
  it('are those a full reading finds there, with and without a filter', () => {
    const random = seeded(5);
    // Checkpoints further apart than the longest message flight, so every recv finds its send.
    const spaced = new TraceIndex(path, { checkpointEvery: 200 });
    const publishes = records.filter((r) => r.k === 'publish');
    const filters = [
      null,
      parseFilter('node:dc-a/frontend-2'),
      parseFilter('topic:likes-2'),
      parseFilter(`e:${publishes[publishes.length >> 1]!.e}`),
      parseFilter(`conn:${subscribedConnection()}`),
    ];
    for (let i = 0; i < 20; i++) {
      const t = Math.floor(random() * spaced.endT);
      for (const filter of filters) {
        const window = spaced.window(t, 8, 4, filter, 1000);
        const state = new ReplayState((records[0] as RunRecord).nodes);
        const sends = new Map<number, SendInfo>();
        const kept: { record: TraceRecord; send: SendInfo | undefined }[] = [];
        for (const record of records.slice(1)) {
          if (record.k === 'send')
            sends.set(record.m, {
              from: record.from,
              to: record.to,
              type: record.type,
              ...(record.e ? { e: record.e } : {}),
            });
          const send = record.k === 'recv' || record.k === 'drop' ? sends.get(record.m) : undefined;
          if (!filter || matches(filter, record, send, state)) kept.push({ record, send });
          state.apply(record);
        }
        const label = `${filter?.text ?? 'no filter'} at ${t}`;
        const listed = (entries: typeof window.before): unknown[] =>
          entries.map((entry) => ({ record: entry.record, send: entry.send }));
        expect(listed(window.before), label).toEqual(kept.filter((x) => x.record.t <= t).slice(-8));
        expect(listed(window.after), label).toEqual(kept.filter((x) => x.record.t > t).slice(0, 4));
      }
    }
  });

  it('a connection filter finds the deliveries that reached it without listing it', () => {
    const index = new TraceIndex(path, { checkpointEvery: 37 });
    const window = index.window(index.endT, 50, 0, parseFilter(`conn:${subscribedConnection()}`), 1000);
    const kinds = new Set(window.before.map((entry) => entry.record.k));
    expect(kinds.has('deliver')).toBe(true);
    expect(kinds.has('conn')).toBe(true);
    for (const entry of window.before) {
      if (entry.record.k === 'deliver') expect(entry.record.c).toBeUndefined();
    }
  });
});
