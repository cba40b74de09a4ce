// Goal: every line the trace writer writes reads back as its record, and every kind of broken line
// is refused with a reason that names what is wrong; what a record means where it stands is judged
// by the reader, by line.
// Method: a faulted run's trace read line by line; then broken lines and broken sequences written
// by hand.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScenario } from './run.ts';
import { reliableFactsFixture, smallScenario } from './test-fixtures.ts';
import { parseTraceLine, TraceFormatError, traceKinds } from './trace-line.ts';
import { TraceError, TraceReader } from './trace-reader.ts';
import { TraceWriter } from './trace-writer.ts';
import type { TraceKind } from './trace.ts';

const dir = mkdtempSync(join(tmpdir(), 'stadium-trace-line-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function faultedTrace(): string[] {
  const path = join(dir, 'faulted.jsonl');
  runScenario(
    smallScenario({
      durationMs: 4_000,
      duplicatePerMillion: 20_000,
      lossPerMillion: 5_000,
      churnPerViewerPerMinute: 6,
      faults: [{ kind: 'kill', atMs: 1_500, node: 'dc-a/frontend-1', restartAfterMs: 1_000 }],
    }),
    '3',
    { tracePath: path },
  );
  return readFileSync(path, 'utf8').trimEnd().split('\n');
}

describe('a trace line', () => {
  it('every line the writer writes is its record, and a run shows most kinds', () => {
    const lines = faultedTrace();
    const kinds = new Set<string>();
    for (const line of lines) {
      const record = parseTraceLine(line);
      expect(record).toEqual(JSON.parse(line));
      kinds.add(record.k);
    }
    // A best-effort run (which writes an answer for each publish): reliable mode's records are the next test's.
    const rare = ['violation', 'role-drop', 'client-drop', 'append', 'trim', 'gap'];
    for (const kind of traceKinds.filter((k) => !rare.includes(k))) expect(kinds.has(kind), kind).toBe(true);
  });

  it('every record kind reliable mode adds, from one fact of each: written lines read as their records', () => {
    const path = join(dir, 'reliable-facts.jsonl');
    const writer = new TraceWriter(path);
    for (const fact of reliableFactsFixture()) writer.fact(fact);
    writer.close();
    const records = readFileSync(path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => {
        const record = parseTraceLine(line);
        expect(record).toEqual(JSON.parse(line));
        return record;
      });
    const kinds = new Set(records.map((record) => record.k));
    for (const kind of ['append', 'trim', 'gap', 'answer'])
      expect(kinds.has(kind as TraceKind), kind).toBe(true);
    // Compact: a position only where the fact has one, `dup` only when true, a warning or a code.
    expect(records.filter((r) => r.k === 'conn' && r.op === 'sub').map((r) => 'seq' in r)).toEqual([
      true,
      false,
      true,
    ]);
    expect(records.filter((r) => r.k === 'append').map((r) => ('dup' in r ? r.dup : 'absent'))).toEqual([
      'absent',
      true,
      'absent',
    ]);
    // A reliable `open` names the topics its viewer resumes from a cursor, and only then.
    const subs = records.flatMap((r) => (r.k === 'conn' && r.op === 'sub' ? [r] : []));
    expect(subs.map((r) => r.resumed ?? 'absent')).toEqual(['absent', 'absent', true]);
    const opens = records.flatMap((r) => (r.k === 'conn' && r.op === 'open' ? [r] : []));
    expect(opens.map((r) => r.res ?? 'absent')).toEqual(['absent', 'absent', ['live']]);
    expect(records.find((r) => r.k === 'fanout')).toMatchObject({ ep: 1, seq: 1 });
    expect(records.find((r) => r.k === 'deliver')).toMatchObject({ ep: 1, seq: 1 });
    expect(records.filter((r) => r.k === 'answer')).toEqual([
      { k: 'answer', t: 23, dc: 'dc-a', ok: false, e: 'dc-a-1', code: 'store-unavailable' },
      { k: 'answer', t: 23, dc: 'dc-b', ok: false, code: 'overloaded' },
      { k: 'answer', t: 24, dc: 'dc-a', ok: true, e: 'dc-a-1', w: 'forward-pending' },
      { k: 'answer', t: 24, dc: 'dc-a', ok: true, e: 'dc-a-1' },
    ]);
    // A gap names its connections as a fan-out does: relative to the topic's subscribers there.
    expect(
      records.filter((r) => r.k === 'gap').map((r) => (r.k === 'gap' ? [r.to, r.why, r.n] : [])),
    ).toEqual([
      [5, 'trimmed', 1],
      [null, 'unknown-cursor', 1],
      [null, 'epoch', 3],
      [3, 'duplicate', 1],
    ]);
    expect(records.filter((r) => r.k === 'gap').map((r) => ('e' in r ? r.e : 'none'))).toEqual([
      'none',
      'none',
      'none',
      'dc-a-1',
    ]);
    // A delivery and its ack share the delivery's id; the ack names the event; reads say what they asked and got.
    const sends = records.filter((r) => r.k === 'send');
    expect(sends.map(({ t: _t, m: _m, from: _from, to: _to, ...rest }) => rest)).toEqual([
      { k: 'send', type: 'deliver', e: 'dc-a-1', topic: 'live', r: 7, ep: 1, seq: 1 },
      { k: 'send', type: 'deliver-ack', e: 'dc-a-1', r: 7 },
      { k: 'send', type: 'history-read', topic: 'live', h: { seq: 1 } },
      {
        k: 'send',
        type: 'history-reply',
        topic: 'live',
        h: { ok: true, epoch: 1, afterSeq: 1, firstSeq: 4, headSeq: 5, n: 2, fromSeq: 4, toSeq: 5 },
      },
      { k: 'send', type: 'history-read', topic: 'live', h: { eventId: 'dc-a-1' } },
      {
        k: 'send',
        type: 'history-reply',
        topic: 'live',
        h: { ok: false, message: 'the store of dc-a did not answer in 100 ms' },
      },
    ]);
  });

  const broken: [string, string, RegExp][] = [
    ['empty', '', /^empty line$/],
    ['not JSON', '{"k":"recv"', /^malformed JSON/],
    ['not an object', '[1]', /^not a JSON object$/],
    ['no kind', '{"t":1}', /^no record kind `k`$/],
    ['unknown kind', '{"k":"teleport","t":2}', /^unknown record kind "teleport"$/],
    ['fractional time', '{"k":"recv","t":1.5,"m":1}', /^recv: time `t` must be a non-negative integer/],
    ['negative time', '{"k":"recv","t":-1,"m":1}', /^recv: time `t` must be a non-negative integer/],
    [
      'missing field',
      '{"k":"deliver","t":1,"node":"a","e":"x","topic":"t"}',
      /^deliver: field `n` is missing or has the wrong type \(missing\)/,
    ],
    ['wrong type', '{"k":"recv","t":1,"m":"1"}', /^recv: field `m` is missing or has the wrong type \("1"\)/],
    [
      'unknown message type',
      '{"k":"send","t":1,"m":1,"from":"a","to":"b","type":"telegram"}',
      /^send: field `type` must be one of publish, .* \(got "telegram"\)/,
    ],
    [
      'three copies',
      '{"k":"send","t":1,"m":1,"from":"a","to":"b","type":"deliver","copies":3}',
      /^send: field `copies` must be one of 2 \(got 3\)/,
    ],
    [
      'unknown drop reason',
      '{"k":"drop","t":1,"m":1,"why":"gremlins"}',
      /^drop: field `why` must be one of loss,/,
    ],
    [
      'unknown connection change',
      '{"k":"conn","t":1,"c":"c-1","node":"a","v":1,"op":"teleport"}',
      /^conn: field `op` must be one of open, close, sub, unsub, refused \(got "teleport"\)/,
    ],
    [
      'unknown fault kind',
      '{"k":"fault","t":1,"f":1,"phase":"start","fault":{"kind":"meteor"}}',
      /^fault: `fault.kind` must be one of kill, partition, isolate, jitter-storm, loss-burst \(got "meteor"\)/,
    ],
    [
      'malformed node',
      '{"k":"run","t":0,"version":2,"seed":"1","nodes":[{"id":"a","dc":"x","role":"janitor"}]}',
      /^run: malformed node/,
    ],
    [
      'unknown gap reason',
      '{"k":"gap","t":1,"node":"a","topic":"t","n":1,"ep":1,"from":2,"to":3,"why":"bored"}',
      /^gap: field `why` must be one of trimmed, epoch, unknown-cursor, duplicate \(got "bored"\)/,
    ],
    [
      'a gap whose end is a string',
      '{"k":"gap","t":1,"node":"a","topic":"t","n":1,"ep":1,"from":2,"to":"end","why":"epoch"}',
      /^gap: field `to` is missing or has the wrong type \("end"\)/,
    ],
    [
      'an append without its seq',
      '{"k":"append","t":1,"dc":"a","e":"x","topic":"t","ep":1}',
      /^append: field `seq` is missing or has the wrong type \(missing\)/,
    ],
    [
      'an append that says dup: false',
      '{"k":"append","t":1,"dc":"a","e":"x","topic":"t","ep":1,"seq":2,"dup":false}',
      /^append: field `dup` must be one of true \(got false\)/,
    ],
    [
      'an unknown warning',
      '{"k":"answer","t":1,"dc":"a","ok":true,"e":"x","w":"sunburn"}',
      /^answer: field `w` must be one of store-rebuilding, frontend-lapsed, forward-pending \(got "sunburn"\)/,
    ],
    [
      'an OK answer without its event',
      '{"k":"answer","t":1,"dc":"a","ok":true}',
      /^answer: an OK answer needs its event `e` and no `code`/,
    ],
    [
      'a refusal without its code',
      '{"k":"answer","t":1,"dc":"a","ok":false,"e":"x"}',
      /^answer: a refusal needs its `code` and no warning `w`/,
    ],
    [
      'an unknown refusal',
      '{"k":"answer","t":1,"dc":"a","ok":false,"code":"tuesday"}',
      /^answer: field `code` must be one of bad-topic, bad-id, bad-payload, payload-too-large, store-unavailable, overloaded/,
    ],
    [
      'a history read that names no start',
      '{"k":"send","t":1,"m":1,"from":"a","to":"b","type":"history-read","h":{"after":3}}',
      /^send: `h` of a history-read must be \{seq\} or \{eventId\}/,
    ],
    [
      'a history answer without its head',
      '{"k":"send","t":1,"m":1,"from":"a","to":"b","type":"history-reply","h":{"ok":true,"epoch":1,"afterSeq":0,"firstSeq":1,"n":0}}',
      /^send: `h` of a history-reply must be \{ok, epoch, afterSeq, firstSeq, headSeq, n/,
    ],
    [
      'a history on a deliver',
      '{"k":"send","t":1,"m":1,"from":"a","to":"b","type":"deliver","h":{"seq":1}}',
      /^send: `h` belongs only to history-read and history-reply/,
    ],
    [
      'an occupancy with a count that is not whole',
      '{"k":"occupancy","t":1,"node":"a","topic":"t","n":1,"count":2.5,"byDc":{"a":2.5}}',
      /^occupancy: `count` must be a whole number \(got 2.5\)/,
    ],
    [
      'an occupancy whose shares are not counts',
      '{"k":"occupancy","t":1,"node":"a","topic":"t","n":1,"count":2,"byDc":{"a":"two"}}',
      /^occupancy: `byDc` must map datacenters to whole numbers/,
    ],
    [
      'an occupancy whose stale datacenters are not names',
      '{"k":"occupancy","t":1,"node":"a","topic":"t","n":1,"count":2,"byDc":{"a":2},"stale":[1]}',
      /^occupancy: `stale` must list datacenters/,
    ],
    [
      'an occupancy without its shares',
      '{"k":"occupancy","t":1,"node":"a","topic":"t","n":1,"count":2}',
      /^occupancy: field `byDc` is missing or has the wrong type \(missing\)/,
    ],
    [
      'violation without chain',
      '{"k":"violation","t":1,"violation":{"invariant":"x","message":"m"}}',
      /needs an/,
    ],
  ];
  for (const [name, line, reason] of broken) {
    it(`refuses a line: ${name}`, () => {
      expect(() => parseTraceLine(line)).toThrow(TraceFormatError);
      expect(() => parseTraceLine(line)).toThrow(reason);
    });
  }
});

describe('a line where it stands', () => {
  const lines = faultedTrace();
  const run = lines[0]!;
  const read = (texts: string[], lastComplete = true): void => {
    const reader = new TraceReader('t.jsonl');
    texts.forEach((text, i) => reader.read(text, lastComplete || i < texts.length - 1));
  };
  const cases: [string, string[], RegExp][] = [
    [
      'not run first',
      ['{"k":"node","t":1,"node":"a","op":"up"}'],
      /:1: the first record must be `run`, found `node`/,
    ],
    ['a second run', [run, run], /:2: a second `run` record/],
    [
      'backwards',
      [run, '{"k":"node","t":9,"node":"a","op":"down"}', '{"k":"node","t":8,"node":"a","op":"up"}'],
      /:3: time goes backwards \(8 after 9\)/,
    ],
    [
      'a fault that ends unstarted',
      [run, '{"k":"fault","t":1,"f":3,"phase":"end","fault":{"kind":"kill","node":"a"}}'],
      /:2: fault #3 ends but never started/,
    ],
    [
      'after the end',
      [run, '{"k":"end","t":1,"report":{"items":1}}', '{"k":"recv","t":2,"m":1}'],
      /:3: a recv record after the `end` record/,
    ],
    [
      'an orphan fate',
      [run, '{"k":"recv","t":2,"m":1}'],
      /:2: the fate of message #1, which is not in flight/,
    ],
  ];
  for (const [name, texts, reason] of cases) {
    it(`refuses, by line: ${name}`, () => {
      expect(() => read(texts)).toThrow(TraceError);
      expect(() => read(texts)).toThrow(reason);
    });
  }

  it('a last line without its newline that is not JSON was cut short', () => {
    expect(() => read([run, '{"k":"publish","t":5,"e":"ev-1"'], false)).toThrow(
      /:2: truncated: the file ends in the middle of a record/,
    );
    expect(() => read([run, '{"k":"publish","t":5,"e":"ev-1"'])).toThrow(/:2: malformed JSON/);
  });
});
