// Goal: times and records read the same everywhere replay writes them (faults in the sim's words), and a typed time is
// understood in every unit the prompt offers. Method: each case by hand.
import { describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../sim/index.ts';
import { describeRecord, formatDelay, formatTime, parseTime, wrapText } from './format.ts';

describe('format', () => {
  it('writes simulated microseconds as seconds with six decimals', () => {
    expect(formatTime(0)).toBe('0.000000s');
    expect(formatTime(12_345_678)).toBe('12.345678s');
    expect(formatTime(-1500)).toBe('-0.001500s');
  });

  it('writes a delay in the unit that reads best', () => {
    expect(formatDelay(850)).toBe('+850us');
    expect(formatDelay(12_500)).toBe('+12.5ms');
    expect(formatDelay(3_200_000)).toBe('+3.2s');
  });

  it('reads a typed time in s, ms, us or percent of the run, and refuses anything else', () => {
    expect(parseTime('12.5s', 0)).toBe(12_500_000);
    expect(parseTime('12.5', 0)).toBe(12_500_000);
    expect(parseTime('300ms', 0)).toBe(300_000);
    expect(parseTime(' 1200us ', 0)).toBe(1200);
    expect(parseTime('1200µs', 0)).toBe(1200);
    expect(parseTime('50%', 2_000_000)).toBe(1_000_000);
    expect(parseTime('150%', 2_000_000)).toBe(2_000_000);
    expect(parseTime('soon', 0)).toBeNull();
    expect(parseTime('-3s', 0)).toBeNull();
    expect(parseTime('', 0)).toBeNull();
  });

  it('writes one line per record kind, naming drops with their reason and fault', () => {
    const faultName = (f: number): string => `fault #${f} partition dc-a | dc-b`;
    const send = { from: 'dc-a/dispatcher-1', to: 'dc-b/dispatcher-1', type: 'forward', e: 'ev-1' };
    const cases: [TraceRecord, string][] = [
      [
        { k: 'drop', t: 5, m: 7, why: 'partition', f: 2 },
        'DROP #7 dc-a/dispatcher-1 -> dc-b/dispatcher-1 forward ev-1: partition (fault #2 partition dc-a | dc-b)',
      ],
      [{ k: 'recv', t: 5, m: 7 }, 'recv #7 dc-a/dispatcher-1 -> dc-b/dispatcher-1 forward ev-1'],
      [
        { k: 'role-drop', t: 5, node: 'dc-a/dispatcher-1', why: 'store-timeout', e: 'ev-1' },
        'dc-a/dispatcher-1 gave up: store-timeout ev-1',
      ],
      [
        { k: 'client-drop', t: 5, node: 'dc-a/frontend-1', e: 'ev-1', n: 3, why: 'source-dead' },
        'CLIENT-DROP ev-1 3 conn at dc-a/frontend-1: source-dead',
      ],
      [{ k: 'node', t: 5, node: 'dc-a/store', op: 'down' }, 'NODE dc-a/store DOWN'],
      [
        { k: 'lease', t: 5, dc: 'dc-a', topic: 'live', fe: 'dc-a/frontend-1', change: 'expired' },
        'lease expired live for dc-a/frontend-1 in dc-a',
      ],
      [
        { k: 'loss', t: 5, e: 'ev-1', node: null, n: 2, explained: false, cause: 'no fault' },
        'LOSS ev-1 2 at ?: no fault (UNEXPLAINED)',
      ],
      [{ k: 'end', t: 5, report: {} }, 'end of run'],
      // What a frontend told its watchers of a topic's viewer count.
      [
        {
          k: 'occupancy',
          t: 5,
          node: 'dc-a/frontend-1',
          topic: 'live',
          n: 3,
          count: 1_204,
          byDc: { 'dc-a': 400, 'dc-b': 804 },
          stale: ['dc-b'],
        },
        'dc-a/frontend-1 told 3 watchers: 1,204 watching live (dc-a 400 · dc-b 804 stale)',
      ],
      [
        { k: 'occupancy', t: 5, node: 'dc-a/frontend-1', topic: 'live', n: 1, count: 2, byDc: { 'dc-a': 2 } },
        'dc-a/frontend-1 told 1 watcher: 2 watching live (dc-a 2)',
      ],
      // Reliable mode's records, and the positions it adds.
      [
        { k: 'fanout', t: 5, node: 'dc-a/frontend-1', e: 'ev-1', topic: 'live', n: 2, ep: 1, seq: 4 },
        'fanout ev-1 seq 4 @ epoch 1 to 2 conn at dc-a/frontend-1',
      ],
      [
        { k: 'conn', t: 5, c: 'c-1', node: 'dc-a/frontend-1', v: 1, op: 'sub', topic: 'live', ep: 2, seq: 0 },
        'conn c-1 sub live after seq 0 @ epoch 2 at dc-a/frontend-1',
      ],
      [
        { k: 'append', t: 5, dc: 'dc-a', e: 'ev-1', topic: 'live', ep: 1, seq: 4, dup: true },
        'dc-a already held ev-1 (live) as seq 4 of epoch 1 (dup)',
      ],
      [
        { k: 'append', t: 5, dc: 'dc-b', e: 'ev-1', topic: 'live', ep: 2, seq: 4 },
        'dc-b stored ev-1 (live) as seq 4 of epoch 2',
      ],
      [
        { k: 'trim', t: 5, dc: 'dc-a', topic: 'live', ep: 1, seq: 3 },
        'dc-a forgot live through seq 3 of epoch 1',
      ],
      [
        {
          k: 'gap',
          t: 5,
          node: 'dc-a/frontend-1',
          topic: 'live',
          n: 2,
          ep: 1,
          from: 2,
          to: null,
          why: 'epoch',
        },
        'gap: seqs 2 on of epoch 1 lost with their epoch, told to 2 viewers of dc-a/frontend-1 (live)',
      ],
      [
        {
          k: 'gap',
          t: 5,
          node: 'dc-a/frontend-2',
          topic: 'live',
          n: 3,
          ep: 1,
          from: 5,
          to: 9,
          why: 'trimmed',
        },
        'gap: seqs 5-9 of epoch 1 trimmed, told to 3 viewers of dc-a/frontend-2 (live)',
      ],
      [
        {
          k: 'gap',
          t: 5,
          node: 'dc-a/frontend-2',
          topic: 'live',
          n: 1,
          ep: 2,
          from: 3,
          to: 3,
          why: 'duplicate',
          e: 'ev-1',
        },
        'gap: seq 3 of epoch 2 repeats ev-1 (appended again), told to 1 viewer of dc-a/frontend-2 (live)',
      ],
      [
        { k: 'answer', t: 5, dc: 'dc-a', ok: true, e: 'ev-1', w: 'forward-pending' },
        'dc-a/publisher: publish ev-1 answered OK with forward-pending',
      ],
      [{ k: 'answer', t: 5, dc: 'dc-a', ok: true, e: 'ev-1' }, 'dc-a/publisher: publish ev-1 answered OK'],
      [
        { k: 'answer', t: 5, dc: 'dc-a', ok: false, e: 'ev-2', code: 'store-unavailable' },
        'dc-a/publisher: publish ev-2 refused: store-unavailable',
      ],
      [
        { k: 'answer', t: 5, dc: 'dc-a', ok: false, code: 'overloaded' },
        'dc-a/publisher: a publish refused: overloaded',
      ],
      // Reliable mode's messages: a delivery's position, its ack's event, what a history read asks and gets.
      [
        {
          k: 'send',
          t: 5,
          m: 8,
          from: 'dc-a/dispatcher-1',
          to: 'dc-a/frontend-1',
          type: 'deliver',
          e: 'ev-1',
          topic: 'live',
          r: 3,
          ep: 1,
          seq: 17,
        },
        'send #8 dc-a/dispatcher-1 -> dc-a/frontend-1 deliver ev-1 seq 17 @ epoch 1',
      ],
      [
        {
          k: 'send',
          t: 5,
          m: 9,
          from: 'dc-a/frontend-1',
          to: 'dc-a/dispatcher-1',
          type: 'deliver-ack',
          e: 'ev-1',
          r: 3,
        },
        'send #9 dc-a/frontend-1 -> dc-a/dispatcher-1 deliver-ack ev-1',
      ],
      [
        {
          k: 'send',
          t: 5,
          m: 10,
          from: 'dc-a/frontend-1',
          to: 'dc-a/dispatcher-1',
          type: 'history-read',
          topic: 'live',
          h: { seq: 4 },
        },
        'send #10 dc-a/frontend-1 -> dc-a/dispatcher-1 history-read live after seq 4',
      ],
      [
        {
          k: 'send',
          t: 5,
          m: 11,
          from: 'dc-a/dispatcher-1',
          to: 'dc-a/frontend-1',
          type: 'history-reply',
          topic: 'live',
          h: { ok: true, epoch: 1, afterSeq: 4, firstSeq: 10, headSeq: 12, n: 3, fromSeq: 10, toSeq: 12 },
        },
        'send #11 dc-a/dispatcher-1 -> dc-a/frontend-1 history-reply live: seqs 10-12 of epoch 1 (after seq 4, oldest held 10, head 12, seqs 5-9 no longer held)',
      ],
      [
        {
          k: 'send',
          t: 5,
          m: 12,
          from: 'dc-a/dispatcher-1',
          to: 'dc-a/frontend-1',
          type: 'history-reply',
          topic: 'live',
          h: { ok: true, epoch: 2, afterSeq: 12, firstSeq: 1, headSeq: 12, n: 0 },
        },
        'send #12 dc-a/dispatcher-1 -> dc-a/frontend-1 history-reply live: nothing new of epoch 2 (after seq 12, oldest held 1, head 12)',
      ],
      [
        {
          k: 'send',
          t: 5,
          m: 13,
          from: 'dc-a/dispatcher-1',
          to: 'dc-a/frontend-1',
          type: 'history-reply',
          topic: 'live',
          h: { ok: false, message: 'the store of dc-a did not answer in 100 ms' },
        },
        'send #13 dc-a/dispatcher-1 -> dc-a/frontend-1 history-reply live: failed: the store of dc-a did not answer in 100 ms',
      ],
      // A fault in the sim's words (sim/describe-fault.ts), without the duration the timeline shows.
      [
        {
          k: 'fault',
          t: 5,
          f: 2,
          phase: 'start',
          fault: {
            kind: 'jitter-storm',
            atMs: 0,
            durationMs: 5,
            extraLatency: { baseUs: 900, jitterUs: 10 },
            dc: 'dc-c',
          },
        },
        'FAULT #2 starts: jitter storm in dc-c (+900 µs, jitter 10 µs)',
      ],
      [
        {
          k: 'fault',
          t: 5,
          f: 3,
          phase: 'end',
          fault: { kind: 'kill', atMs: 0, node: 'dc-a/frontend-1', restartAfterMs: 9 },
        },
        'FAULT #3 ends: kill dc-a/frontend-1',
      ],
    ];
    for (const [record, text] of cases) {
      expect(
        describeRecord(record, record.k === 'drop' || record.k === 'recv' ? send : undefined, faultName),
      ).toBe(text);
    }
    expect(describeRecord({ k: 'recv', t: 5, m: 9 }, undefined, faultName)).toBe('recv #9');
  });

  it('wraps a long line at spaces, rows after the first indented past its time', () => {
    const step =
      '  20.963126s dc-a/dispatcher-2 -> dc-c/dispatcher-1 cross-DC forward #28861: DROPPED +37.9ms, partition (fault #3 partition dc-a | dc-c)';
    const rows = wrapText(step, 60);
    for (const row of rows) expect(row.length).toBeLessThanOrEqual(60);
    expect(rows.length).toBeGreaterThan(2);
    expect(rows[0]).toBe('  20.963126s dc-a/dispatcher-2 -> dc-c/dispatcher-1 cross-DC');
    for (const row of rows.slice(1)) expect(row).toMatch(/^ {13}\S/);
    // Nothing is lost: the rows joined give the words back.
    expect(rows.map((row) => row.trim()).join(' ')).toBe(step.trim());
    expect(rows.at(-1)).toContain('partition dc-a | dc-c)');
    // A line that fits, and a word longer than a row.
    expect(wrapText('short', 60)).toEqual(['short']);
    expect(wrapText('x'.repeat(25), 10)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
  });
});
