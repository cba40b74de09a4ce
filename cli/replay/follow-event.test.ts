// Goal: following an event shows its whole path as the trace has it: publish, store lookup,
// cross-DC forwards, deliveries to connections, and where and why it was dropped or lost; in
// reliable mode each attempt of a delivery or a forward numbered with its ack, a retry said to be
// one (after how long, and a forward's failover), every store's seq and epoch for it, and a gap
// notice that covers it even when it comes long after.
// Method: a real simulator run with a partition and a planted bug that skips deliveries, and a
// reliable run with loss, a dispatcher killed and a frontend isolated past its history
// (test-traces.ts); each path compared with the trace's own records.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../sim/index.ts';
import { faultyTimesUs, readRecords, reliableTimesUs, writeTestTrace } from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let records: TraceRecord[];
let index: TraceIndex;
let reliableRecords: TraceRecord[];
let reliable: TraceIndex;
let deliverTimeoutMs: number;
let forwardTimeoutMs: number;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-follow-'));
  const path = writeTestTrace(dir, 'faulty').path;
  records = readRecords(path);
  index = new TraceIndex(path, { checkpointEvery: 37 });
  const written = writeTestTrace(dir, 'reliable');
  ({ deliverTimeoutMs, forwardTimeoutMs } = written.scenario.roles);
  const reliablePath = written.path;
  reliableRecords = readRecords(reliablePath);
  reliable = new TraceIndex(reliablePath, { checkpointEvery: 37 });
});

type Send = Extract<TraceRecord, { k: 'send' }>;
const isSend = (r: TraceRecord): r is Send => r.k === 'send';

/** The attempts of each delivery or forward in the trace: sends of one type sharing sender and id. */
function attemptsOf(type: 'deliver' | 'forward'): Send[][] {
  const groups = new Map<string, Send[]>();
  for (const r of reliableRecords.filter(isSend))
    if (r.type === type) {
      // A restarted dispatcher numbers from 1 again: the event tells its deliveries apart.
      const key = `${r.from} ${r.r} ${r.e}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
  return [...groups.values()];
}

/** How long a retry's line says its attempt waited for an ack, in ms. */
const waitedMs = (line: string | undefined): number =>
  Number(/after no ack in ([\d.]+) ms/.exec(line ?? '')?.[1]);

const pathText = (e: string): string =>
  reliable
    .follow(e)
    .steps.map((s) => s.text)
    .join('\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('following an event', () => {
  it('goes from publish through lookup, forward and frontends to where it was lost', () => {
    const lost = index.violations.find((v) => v.violation.invariant === 'explained-loss')!.violation.e!;
    const followed = index.follow(lost);
    const text = followed.steps.map((s) => s.text).join('\n');
    expect(followed.topic).toMatch(/^likes-/);
    expect(text).toMatch(/^published on likes-/);
    expect(text).toMatch(/dc-\w\/dispatcher-\d -> dc-\w\/store store lookup #\d+: arrived \+\d+us/);
    expect(text).toContain('cross-DC forward');
    expect(text).toMatch(/delivered to \d+ connections?: dc-/);
    expect(text).toContain('UNEXPLAINED');
    expect(text).not.toContain('in flight');
    expect(followed.steps.filter((step) => step.bad).map((step) => step.text)).toEqual(
      followed.steps.filter((step) => /LOST|VIOLATION|DROPPED/.test(step.text)).map((step) => step.text),
    );
    expect(followed.violations.map((v) => v.violation.invariant)).toEqual(['explained-loss']);
  });

  it("names a forward the partition dropped, with the drop's reason and fault", () => {
    const during = records.find(
      (r): r is Extract<TraceRecord, { k: 'publish' }> =>
        r.k === 'publish' && r.t > faultyTimesUs.partition[0] && r.origin === 'dc-a',
    )!;
    const partitioned = index
      .follow(during.e)
      .steps.map((s) => s.text)
      .join('\n');
    expect(partitioned).toMatch(
      /cross-DC forward #\d+: DROPPED \+[\d.]+(us|ms), partition \(fault #2 partition dc-a \| dc-b\)/,
    );
  });

  it('an unknown event is not found', () => {
    expect(index.follow('no-such-event')).toEqual({
      e: 'no-such-event',
      found: false,
      steps: [],
      violations: [],
    });
  });
});

describe('following an event in reliable mode', () => {
  it("names every store's seq and epoch for it, and the same position on every delivery and fan-out there", () => {
    const e = attemptsOf('deliver').find((sends) => sends.length > 1)![0]!.e!;
    const appends = reliableRecords.filter((r) => r.k === 'append' && r.e === e);
    expect(appends.length).toBe(3);
    const text = pathText(e);
    for (const append of appends) {
      if (append.k !== 'append') continue;
      expect(text).toContain(`${append.dc} stored it as seq ${append.seq} of epoch ${append.ep}`);
      const position = `seq ${append.seq} @ epoch ${append.ep}`;
      for (const line of text.split('\n'))
        if (/ (fanned out|delivered) /.test(line) && line.startsWith(`${append.dc}/`))
          expect(line).toContain(position);
    }
    expect(text).toMatch(/^dc-\w\/publisher -> dc-\w\/dispatcher-\d publish #\d+: arrived/);
    expect(text).toMatch(new RegExp(`dc-\\w/publisher: publish ${e} answered OK`));
  });

  it('numbers each attempt of a delivery, says a retry came after no ack, and puts each ack on its attempt', () => {
    const retried = attemptsOf('deliver').filter((sends) => sends.length > 1);
    expect(retried.length).toBeGreaterThan(3);
    for (const sends of retried.slice(0, 5)) {
      const [first, ...again] = sends as [Send, ...Send[]];
      const lines = pathText(first.e!).split('\n');
      expect(lines).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^${first.from} -> ${first.to} delivery #${first.m} seq ${first.seq} @ epoch ${first.ep}: `,
          ),
        ),
      );
      again.forEach((send, i) => {
        const line = lines.find((l) => l.startsWith(`${send.from} delivery #${send.m} `));
        expect(line).toMatch(
          new RegExp(`, attempt ${i + 2} to ${send.to} after no ack in [\\d.]+ ms: (arrived|DROPPED)`),
        );
        // The dispatcher's clock is in milliseconds: a retry comes within one of the timeout.
        expect(Math.abs(waitedMs(line) - deliverTimeoutMs)).toBeLessThanOrEqual(1);
      });
      // Every ack the frontend sent for this delivery is on the line of an attempt.
      const acks = reliableRecords.filter(
        (r): r is Send => isSend(r) && r.type === 'deliver-ack' && r.r === first.r && r.to === first.from,
      );
      for (const ack of acks.filter((a) => a.e === first.e))
        expect(lines.some((l) => l.includes(` delivery #`) && l.includes(`; ack #${ack.m} `))).toBe(true);
    }
  });

  it('follows a forward through its retries, with the failover to the other dispatcher and its ack', () => {
    const failedOver = attemptsOf('forward').find(
      (sends) => sends[0]!.to === 'dc-b/dispatcher-1' && sends.some((s) => s.to === 'dc-b/dispatcher-2'),
    )!;
    const [first] = failedOver as [Send];
    expect(first.t).toBeGreaterThanOrEqual(reliableTimesUs.dispatcherKill[0]);
    const ack = reliableRecords.find(
      (r): r is Send => isSend(r) && r.type === 'forward-ack' && r.to === first.from && r.r === first.r,
    )!;
    // The attempt acknowledged: the last one to dispatcher-2 before its ack (an earlier one's store
    // write may have been lost on the lossy link, and the forward tried again).
    const retry = failedOver.filter((s) => s.to === 'dc-b/dispatcher-2' && s.t < ack.t).at(-1)!;
    const text = pathText(first.e!);
    expect(text).toMatch(
      new RegExp(
        `${first.from} -> dc-b/dispatcher-1 cross-DC forward #${first.m}: DROPPED \\S+, target-dead`,
      ),
    );
    const line = text.split('\n').find((l) => l.startsWith(`${first.from} cross-DC forward #${retry.m},`));
    expect(line).toMatch(
      new RegExp(
        `, attempt ${failedOver.indexOf(retry) + 1} to dc-b/dispatcher-2 after no ack in [\\d.]+ ms \\(failover from dc-b/dispatcher-1\\): arrived \\S+; ack #${ack.m} arrived`,
      ),
    );
    expect(Math.abs(waitedMs(line) - forwardTimeoutMs)).toBeLessThanOrEqual(1);
    expect(text).toMatch(/dc-b stored it as seq \d+ of epoch 1/);
  });

  it('shows the gap notice that covers it, though it comes after the rest of its path', () => {
    const gap = reliableRecords.find((r) => r.k === 'gap')!;
    if (gap.k !== 'gap') throw new Error('no gap in the reliable trace');
    expect(gap.t).toBeGreaterThanOrEqual(reliableTimesUs.isolation[1]);
    const covered = reliableRecords.find(
      (r) =>
        r.k === 'append' && r.dc === 'dc-b' && r.topic === gap.topic && r.seq >= gap.from && r.seq <= gap.to!,
    )!;
    if (covered.k !== 'append') throw new Error('no event under the gap');
    const followed = reliable.follow(covered.e);
    const step = followed.steps.find((s) => s.text.startsWith('GAP'))!;
    expect(step.text).toBe(
      `GAP at ${gap.node}: seqs ${gap.from}-${gap.to} of epoch ${gap.ep} trimmed, told to ${gap.n} viewer${gap.n === 1 ? '' : 's'}; it is seq ${covered.seq} there`,
    );
    expect(step.bad).toBe(true);
    expect(step.t).toBe(gap.t);
    // Not among the event's records: found through the index's gap notices.
    expect(reliable.eventSpan(covered.e)!.lastT).toBeLessThan(gap.t);
    // An event of another topic, or one the gap does not cover, shows none.
    const uncovered = reliableRecords.find(
      (r) => r.k === 'append' && r.dc === 'dc-b' && r.topic === gap.topic && r.seq === gap.to! + 1,
    );
    if (uncovered?.k === 'append') expect(pathText(uncovered.e)).not.toContain('GAP');
  });
});
