// Goal: the records listed around a time are exactly those a full reading finds there, with and
// without a filter, each `send`, `recv` and `drop` naming its message's hop and event (a
// forward-ack its forward's).
// Method: a real simulator run (test-traces.ts) indexed and compared at seeded random times with
// a naive reading that keeps every record.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matches, parseFilter } from './filter.ts';
import { describeRecord, type SendInfo, sendInfo } from './format.ts';
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
      parseFilter('kind:ack'),
      parseFilter('forward-ack node:dc-b'),
    ];
    for (let i = 0; i < 20; i++) {
      const t = Math.floor(random() * spaced.endT);
      for (const filter of filters) {
        const window = spaced.window(t, 8, 4, filter, 1000);
        const state = new ReplayState((records[0] as RunRecord).nodes);
        const sends = new Map<number, SendInfo>();
        const forwards = new Map<string, string>();
        const kept: { record: TraceRecord; send: SendInfo | undefined }[] = [];
        for (const record of records.slice(1)) {
          if (record.k === 'send') {
            let e = record.e;
            if (record.type === 'forward' && e !== undefined) forwards.set(`${record.from} ${record.r}`, e);
            if (record.type === 'forward-ack') e = forwards.get(`${record.to} ${record.r}`);
            sends.set(record.m, sendInfo(record, e));
          }
          const message = record.k === 'send' || record.k === 'recv' || record.k === 'drop';
          const send = message ? sends.get(record.m) : undefined;
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

  it('in a reliable trace, kind filters find the gap notices and the history reads, each line saying what it is', () => {
    const reliablePath = writeTestTrace(dir, 'reliable').path;
    const reliableRecords = readRecords(reliablePath);
    const index = new TraceIndex(reliablePath, { checkpointEvery: 100 });
    const lines = (filter: string): string[] =>
      index
        .window(index.endT, 1000, 0, parseFilter(filter), 1000)
        .before.map((entry) => describeRecord(entry.record, entry.send, (f) => index.faultName(f)));
    const gaps = reliableRecords.filter((r) => r.k === 'gap');
    expect(gaps.length).toBeGreaterThan(0);
    expect(lines('kind:gap')).toEqual(
      gaps.map((r) =>
        r.k === 'gap'
          ? `gap: seqs ${r.from}-${r.to} of epoch ${r.ep} trimmed, told to ${r.n} viewer${r.n === 1 ? '' : 's'} of ${r.node} (${r.topic})`
          : '',
      ),
    );
    expect(lines('gap')).toEqual(lines('kind:gap'));
    // Reads and their answers: sends, receipts and drops, each naming its topic and range.
    const history = lines('kind:history');
    expect(history.filter((l) => l.startsWith('send ')).length).toBe(
      reliableRecords.filter((r) => r.k === 'send' && r.type.startsWith('history-')).length,
    );
    for (const line of history) expect(line).toMatch(/history-(read likes-\d after|reply likes-\d: )/);
    expect(history.some((l) => / no longer held\)$/.test(l))).toBe(true);
    // A deliver-ack names the event it acknowledges, so `e:` finds it.
    const acked = reliableRecords.find((r) => r.k === 'send' && r.type === 'deliver-ack');
    expect(acked?.k === 'send' && acked.e).toBeTruthy();
    const e = acked?.k === 'send' ? acked.e! : '';
    expect(lines(`e:${e} kind:deliver-ack`).length).toBeGreaterThan(0);
    expect(lines(`e:${e} kind:append`)).toContainEqual(
      expect.stringMatching(/^dc-\w stored \S+ \(likes-\d\) as seq \d+ of epoch 1$/),
    );
    expect(() => parseFilter('kind:gremlin')).toThrow(/unknown kind "gremlin"/);
  });
});
