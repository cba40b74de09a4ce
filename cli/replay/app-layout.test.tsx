// Goal: the replay screen fits the terminal it is given, from 64x18 to 160x50, and uses what it
// has: datacenter boxes or one line each, the counters in shorter words, side-by-side panes from
// 140 columns, long path steps wrapped whole; and it follows the terminal when it is resized.
// Method: a real simulator run (test-traces.ts) rendered with ink-testing-library (test-screen.tsx)
// at several sizes, visible text asserted against the index.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { App } from './app.tsx';
import { formatTime } from './format.ts';
import {
  closeScreen,
  frame,
  goTo,
  keys,
  openScreen,
  press,
  renderScreen,
  shows,
  write,
} from './test-screen.tsx';
import { faultyTimesUs, writeTestTrace } from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';
import { countersLines } from './views/counters.tsx';

let dir: string;
let index: TraceIndex;
const [partitionUs] = faultyTimesUs.partition;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-layout-'));
  index = new TraceIndex(writeTestTrace(dir, 'faulty').path, { checkpointEvery: 64 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(closeScreen);

describe('the replay screen at each size', () => {
  it('fits 80x24: header, three datacenter boxes, timeline, counters, events, footer', async () => {
    openScreen(index);
    await shows('stadium replay  faulty seed 1');
    await press(keys.home);
    const text = await shows(`0.000000s / ${formatTime(index.endT)}`);
    const lines = text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) expect(text).toContain(dc);
    expect(text).toContain('Partitions: none');
    // The kill and the partition in force, violations (!) marked over them.
    expect(text).toMatch(/K[=!]*=/);
    expect(text).toMatch(/P[=!]*=/);
    expect(text).toContain('!');
    expect(text).toMatch(/^so far +(published|pub) 0 /m);
    expect(text).toContain('Events');
    expect(text).toContain('q quit');
  });

  it('the counters read "so far" at the time shown, above the whole run\'s, which the report totals', async () => {
    openScreen(index, 120, 40);
    await goTo('3s');
    const text = await shows('3.000000s /');
    const at = index.stateAt(3_000_000).counters;
    const all = index.stateAt(index.endT).counters;
    expect(index.totals).toEqual(all);
    const soFar = text.split('\n').find((line) => line.startsWith('so far'))!;
    const whole = text.split('\n').find((line) => line.startsWith('whole run'))!;
    const n = (value: number): string => value.toLocaleString('en-US');
    expect(soFar).toMatch(new RegExp(`published ${n(at.published)} +delivered ${n(at.delivered)} `));
    expect(whole).toMatch(new RegExp(`published ${n(all.published)} +delivered ${n(all.delivered)} `));
    expect(whole).toContain(`lost ${n(all.lostExplained)} explained / ${n(all.lostUnexplained)} unexplained`);
    expect(whole).toMatch(new RegExp(`duplicates ${n(all.duplicates)} +violations ${n(all.violations)}$`));
    expect(all.duplicates).toBeGreaterThan(0);
    // Each field of the two lines starts in the same column, so they read as a table.
    expect(soFar.indexOf('delivered')).toBe(whole.indexOf('delivered'));
    expect(soFar.indexOf('duplicates')).toBe(whole.indexOf('duplicates'));
  });

  it('the counters keep every field whole at 80 columns, in thousands when the numbers are large', () => {
    const large = {
      published: 443,
      delivered: 104_557,
      duplicates: 11_501,
      lostExplained: 15_573,
      lostUnexplained: 0,
      violations: 11_501,
    };
    const [soFar, whole] = countersLines({ ...large, delivered: 8_285, violations: 82 }, large, 80);
    expect(soFar.length).toBeLessThanOrEqual(80);
    expect(whole.length).toBeLessThanOrEqual(80);
    expect(soFar).toMatch(/^so far +pub 443 +deliv 8,285 .* viol 82$/);
    expect(whole).toMatch(
      /^whole run +pub 443 +deliv 105k +lost 15\.6k \(0 unexpl\) +dup 11\.5k +viol 11\.5k$/,
    );
    // Wider, the numbers are whole.
    expect(countersLines(large, large, 120)[1]).toContain('viol 11,501');
  });

  it("the followed path wraps, so a drop's reason and a loss's cause are whole at 160 and at 80 columns", async () => {
    // A forward dropped by the partition names its fault, and an event a planted bug skipped is
    // reported lost, unexplained: both reasons come at the end of long lines.
    const reasonOf = (e: string, pattern: RegExp): string => {
      const step = index.follow(e).steps.find((s) => pattern.test(s.text))!;
      return step.text.slice(step.text.indexOf(':') + 2);
    };
    const dropped = index
      .window(partitionUs, 0, 400)
      .after.find((entry) => entry.record.k === 'drop' && entry.send?.type === 'forward')!.send!.e!;
    const lost = index.violations.find((v) => v.violation.invariant === 'explained-loss')!.violation.e!;
    const drop = reasonOf(dropped, /DROPPED/);
    const loss = reasonOf(lost, /^LOST/);
    expect(drop).toMatch(/^DROPPED \+\d+\S*, partition \(fault #2 partition dc-a \| dc-b\)$/);
    expect(loss).toMatch(/UNEXPLAINED$/);
    const unwrapped = (rows: string[]): string => rows.map((row) => row.trim()).join(' ');
    openScreen(index, 160, 50);
    for (const [e, reason] of [
      [dropped, drop],
      [lost, loss],
    ] as const) {
      await goTo(e);
      const first = await shows(`Path of ${e}`);
      const rows = first.split('\n');
      // A path longer than the pane: scroll to its end, in one burst.
      if (/Follow \S+ .* \d+-\d+\/\d+$/m.test(first)) {
        write(keys.down.repeat(80));
        rows.push(...(await shows(/Follow \S+ .* \d+-(\d+)\/\1$/m)).split('\n'));
      }
      // Side by side from 140 columns: the follow pane is the right half.
      const pane = rows.map((line) => line.slice(80));
      expect(unwrapped(pane)).toContain(reason);
    }
    openScreen(index, 80, 24);
    await goTo(lost);
    let text = await shows(`Path of ${lost}`);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    const seen = text.split('\n');
    // Scroll to the end of the path, in one burst.
    write(keys.down.repeat(80));
    text = await shows(/Follow \S+ .* \d+-(\d+)\/\1$/m);
    seen.push(...text.split('\n'));
    expect(unwrapped(seen)).toContain(loss);
    // Scrolling stops at the end: one ↑ after too many ↓ moves up one row at once.
    const [, from, to, total] = /(\d+)-(\d+)\/(\d+)$/m.exec(text)!.map(Number);
    await press(keys.up);
    await shows(`${from! - 1}-${to! - 1}/${total}`);
  });

  it('a terminal too small for boxes gets one line per datacenter, naming the nodes that are down', async () => {
    openScreen(index, 64, 18);
    await goTo('2.5s');
    const text = await shows('2.500000s /');
    const connections = index
      .stateAt(2_500_000)
      .nodeViews()
      .filter((node) => node.dc === 'dc-b' && node.role === 'frontend')
      .reduce((sum, node) => sum + node.connections, 0);
    expect(text).toContain('dc-a: DOWN frontend-1 · frontends 1/2 up');
    expect(text).toContain(`dc-b: frontends 2/2 up ${connections}c`);
    expect(text.split('\n').length).toBeLessThanOrEqual(18);
    expect(text).toContain('Events');
  });

  it("follows the terminal's size and redraws when it is resized", async () => {
    const stdout = renderScreen(<App index={index} />).stdout as unknown as {
      columns: number;
      rows: number;
      emit(event: string): void;
    };
    // ink-testing-library's terminal is 100 columns with no rows: the screen assumes 24.
    let text = await shows('Events');
    expect(text.split('\n').length).toBeLessThanOrEqual(24);
    Object.defineProperty(stdout, 'columns', { value: 150, configurable: true });
    Object.defineProperty(stdout, 'rows', { value: 40, configurable: true });
    stdout.emit('resize');
    await vi.waitFor(() => expect(frame().split('\n').length).toBeGreaterThan(30), { timeout: 3000 });
    await press(keys.home);
    text = await shows('0.000000s /');
    expect(text).toContain('space play  ←/→ step  shift+←/→ jump');
  });

  it('uses more space when there is more: side-by-side panes and more event lines', async () => {
    openScreen(index, 80, 24);
    const small = (await shows('Events')).split('\n').filter((l) => /^[ ›]\d+\.\d{6}s /.test(l)).length;
    openScreen(index, 150, 40);
    await goTo('3s');
    const large = (await shows('3.000000s /')).split('\n').filter((l) => /^[ ›]\d+\.\d{6}s /.test(l)).length;
    expect(large).toBeGreaterThan(small);
    await press(keys.home, 'n');
    const both = await shows(`Violation 1/${index.violations.length}`);
    expect(both).toContain('Events');
    expect(both).toContain('frontend-1 up');
  });
});
