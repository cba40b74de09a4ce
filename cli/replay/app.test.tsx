// Goal: the replay screen shows what the trace says at the chosen time, and every key does what the
// footer promises. Method: a small fixture trace (kill 70-110 ms, partition dc-a|dc-b 130-170 ms, two
// planted violations) rendered with ink-testing-library; keys written to stdin, visible text asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { App } from './app.tsx';
import { type FixtureFacts, writeFixtureTrace } from './fixtures.ts';
import { formatTime } from './format.ts';
import { TraceIndex } from './trace-index.ts';

const keys = {
  right: '\u001B[C',
  left: '\u001B[D',
  shiftRight: '\u001B[1;2C',
  shiftLeft: '\u001B[1;2D',
  up: '\u001B[A',
  down: '\u001B[B',
  home: '\u001B[H',
  end: '\u001B[F',
  enter: '\r',
  escape: '\u001B',
};

let dir: string;
let index: TraceIndex;
let facts: FixtureFacts;
let screen: ReturnType<typeof render> | null = null;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-ui-'));
  const path = join(dir, 'fixture.jsonl');
  facts = writeFixtureTrace(path, { seed: 1 });
  index = new TraceIndex(path, { checkpointEvery: 64 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  screen?.unmount();
  screen = null;
});

function open(width = 80, height = 24, tickMs?: number): ReturnType<typeof render> {
  screen = render(
    tickMs === undefined ? (
      <App index={index} width={width} height={height} />
    ) : (
      <App index={index} width={width} height={height} tickMs={tickMs} />
    ),
  );
  return screen;
}

const frame = (): string => screen?.lastFrame() ?? '';

/** Wait until the screen shows `text` (rendering follows input asynchronously). */
async function shows(text: string | RegExp): Promise<string> {
  await vi.waitFor(
    () => {
      if (typeof text === 'string') expect(frame()).toContain(text);
      else expect(frame()).toMatch(text);
    },
    { timeout: 3000, interval: 5 },
  );
  return frame();
}

async function press(...sequence: string[]): Promise<void> {
  for (const key of sequence) {
    screen!.stdin.write(key);
    // Let ink parse the key and React commit before the next one.
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

async function goTo(time: string): Promise<void> {
  await press('g');
  await shows('Go to');
  await press(time, keys.enter);
}

describe('replay screen', () => {
  it('fits 80x24: header, three datacenter boxes, timeline, counters, events, footer', async () => {
    open();
    await shows('stadium replay  fixture seed 1');
    await press(keys.home);
    const text = await shows(`0.000000s / ${formatTime(index.endT)}`);
    const lines = text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) expect(text).toContain(dc);
    expect(text).toContain('Partitions: none');
    expect(text).toMatch(/K=+/);
    expect(text).toContain('!');
    expect(text).toMatch(/^so far +published 0 /m);
    expect(text).toContain('Events');
    expect(text).toContain('q quit');
  });

  it('opens just before the first fault and says so; Home and 0 go to the start, End to the end', async () => {
    open();
    const kill = formatTime(facts.faultTimes.kill[0]);
    const before = formatTime(index.previousTime(facts.faultTimes.kill[0])!);
    let text = await shows(`${before} / ${formatTime(index.endT)}`);
    expect(text).toContain(`opened just before the first fault, at ${kill}; Home or 0: the start`);
    // The world is still the one before the kill; → steps into it.
    expect(text).not.toContain('DOWN');
    expect(text).toContain('Partitions: none');
    await press(keys.right);
    text = await shows(`${kill} /`);
    expect(text).toContain('Faults: kill dc-a/frontend-1 (#1)');
    // The message goes with the first key.
    expect(text).not.toContain('opened just before');
    await press(keys.home);
    await shows('0.000000s /');
    await press(keys.end);
    await shows(`${formatTime(index.endT)} / ${formatTime(index.endT)}`);
    await press('0');
    text = await shows('0.000000s /');
    expect(text).toMatch(/^so far +published 0 /m);
  });

  it('without faults it opens just before the first publish', async () => {
    const path = join(dir, 'no-faults.jsonl');
    writeFixtureTrace(path, { seed: 2, faults: false, bugs: false });
    const calm = new TraceIndex(path);
    expect(calm.faults).toHaveLength(0);
    screen = render(<App index={calm} width={80} height={24} />);
    const first = calm.firstPublishTime()!;
    const text = await shows(
      `opened just before the first publish, at ${formatTime(first)}; Home or 0: the start`,
    );
    expect(text).toContain(`${formatTime(calm.previousTime(first)!)} /`);
    expect(text).toMatch(/^so far +published 0 /m);
    expect(text).toMatch(/^ \d+\.\d{6}s publish ev-0 /m);
  });

  it('the counters read "so far" at the time shown, above the whole run\'s, which the report totals', async () => {
    open(120, 40);
    await goTo('0.2s');
    const text = await shows('0.200000s /');
    const at = index.stateAt(200_000).counters;
    const all = index.stateAt(index.endT).counters;
    expect(index.totals).toEqual(all);
    const soFar = text.split('\n').find((line) => line.startsWith('so far'))!;
    const whole = text.split('\n').find((line) => line.startsWith('whole run'))!;
    const n = (value: number): string => value.toLocaleString('en-US');
    expect(soFar).toMatch(new RegExp(`published ${n(at.published)} +delivered ${n(at.delivered)} `));
    expect(whole).toMatch(new RegExp(`published ${n(all.published)} +delivered ${n(all.delivered)} `));
    expect(whole).toContain(`lost ${n(all.lostExplained)} explained / ${n(all.lostUnexplained)} unexplained`);
    expect(whole).toMatch(/violations 2$/);
    // Each field of the two lines starts in the same column, so they read as a table.
    expect(soFar.indexOf('delivered')).toBe(whole.indexOf('delivered'));
    expect(soFar.indexOf('duplicates')).toBe(whole.indexOf('duplicates'));
  });

  it('at 80 ms the killed frontend is DOWN and the kill is in force; restarted, it holds nothing', async () => {
    open();
    await goTo('80ms');
    const text = await shows('0.080000s /');
    expect(text).toContain('fe-1 DOWN');
    expect(text).toContain('Faults: kill dc-a/frontend-1 (#1)');
    expect(text).toContain('Partitions: none');
    // Its viewers reconnect to frontend-2 after a backoff; by 100 ms it holds all eight of dc-a's.
    await goTo('100ms');
    expect(await shows('0.100000s /')).toMatch(/│fe-2 up 8c 2t 2l/);
    // Restarted at 110 ms, it comes back empty: a crash loses the frontend's state.
    await goTo('120ms');
    expect(await shows('0.120000s /')).toMatch(/│fe-1 up 0c 0t \dl/);
  });

  it('at 150 ms the partition is in force and both datacenters say so; at 200 ms it has healed', async () => {
    open();
    await goTo('0.15');
    let text = await shows('0.150000s /');
    expect(text).toContain('Partitions: dc-a | dc-b (#2)');
    expect(text).toContain('dc-a (partitioned)');
    expect(text).toContain('dc-b (partitioned)');
    expect(text).not.toContain('dc-c (partitioned)');
    await goTo('200ms');
    text = await shows('0.200000s /');
    expect(text).toContain('Partitions: none');
    expect(text).not.toContain('(partitioned)');
    expect(text).toMatch(/fe-2 up \d+c 2t 2l/);
  });

  it('right and left step to the next and previous times something happened', async () => {
    open();
    await press(keys.home);
    await shows('0.000000s /');
    const first = index.nextTime(0)!;
    const second = index.nextTime(first)!;
    await press(keys.right);
    await shows(`${formatTime(first)} /`);
    await press(keys.right);
    await shows(`${formatTime(second)} /`);
    await press(keys.left);
    await shows(`${formatTime(first)} /`);
  });

  it('a burst of five ↑ in one write moves the selection five rows; five ↓ move it back', async () => {
    // A terminal (or tmux, or a held key) delivers several keys in one chunk, faster than React
    // renders; every key must act on the result of the one before it, not on the last frame.
    open(100, 30);
    await goTo('0.3s');
    await shows('0.300000s /');
    const selectedRow = (): number =>
      frame()
        .split('\n')
        .findIndex((line) => line.startsWith('›'));
    const start = selectedRow();
    expect(start).toBeGreaterThan(8);
    screen!.stdin.write(keys.up.repeat(5));
    await vi.waitFor(() => expect(selectedRow()).toBe(start - 5), { timeout: 3000, interval: 5 });
    screen!.stdin.write(keys.down.repeat(5));
    await vi.waitFor(() => expect(selectedRow()).toBe(start), { timeout: 3000, interval: 5 });
  });

  it('keys of one burst build on each other: ↑↑f follows the record two rows up, ff opens and closes', async () => {
    open(100, 30);
    await goTo('0.04s');
    await shows('0.040000s /');
    const lines = frame().split('\n');
    const row = lines.findIndex((line) => line.startsWith('›'));
    const target = /(ev-\d+)/.exec(lines[row - 2]!)?.[1];
    expect(target).toBeDefined();
    screen!.stdin.write(`${keys.up}${keys.up}f`);
    await shows(`Path of ${target}`);
    screen!.stdin.write(keys.escape);
    await shows('Events (↑↓ select, f follow)');
    screen!.stdin.write('ff');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await shows('Events (↑↓ select, f follow)');
    expect(frame()).not.toContain('Follow');
  });

  it('shift+right and shift+left jump by a fiftieth of the run', async () => {
    open();
    await press(keys.home);
    await shows('0.000000s /');
    const jump = Math.round(index.endT / 50);
    await press(keys.shiftRight, keys.shiftRight);
    await shows(`${formatTime(2 * jump)} /`);
    await press(keys.shiftLeft);
    await shows(`${formatTime(jump)} /`);
  });

  it('space plays and pauses; + and - change the speed', async () => {
    open(80, 24, 10);
    await shows('paused 0.1x');
    await press('+');
    await shows('paused 0.25x');
    await press('-', '-');
    await shows('paused 0.01x');
    await press('+', '+', '+', '+');
    await shows('paused 1x');
    await press(' ');
    await shows('playing 1x');
    // Time moves while playing, whatever the machine's speed.
    await shows(/stadium replay {2}fixture seed 1 {2}0\.0*[1-9]\d*s \//);
    await press(' ');
    const paused = await shows('paused 1x');
    const at = /(\d+\.\d+s) \//.exec(paused)![1];
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(frame()).toContain(`${at} /`);
  });

  it('/ filters the events by event id, and an unknown prefix is explained', async () => {
    open();
    await goTo('0.3s');
    await shows('0.300000s /');
    await press('/');
    await shows('Filter (node:, topic:, conn:, e:)');
    await press('e:ev-7', keys.enter);
    const text = await shows('Events matching "e:ev-7"');
    const eventLines = text.split('\n').filter((line) => /^[ ›]\d+\.\d{6}s /.test(line));
    expect(eventLines.length).toBeGreaterThan(3);
    for (const line of eventLines) expect(line).toContain('ev-7');
    await press('/');
    await press(...Array.from({ length: 6 }, () => '\u007F'), 'zz:1', keys.enter);
    await shows('unknown filter "zz:"');
  });

  it('/ filters by node, including recvs and drops of its messages and the faults that touch it', async () => {
    open(100, 30);
    await goTo('0.16s');
    await press('/', 'node:dc-a/frontend-1', keys.enter);
    const text = await shows('Events matching "node:dc-a/frontend-1"');
    const eventLines = text.split('\n').filter((line) => /^[ ›]\d+\.\d{6}s /.test(line));
    expect(eventLines.length).toBeGreaterThan(3);
    // Faults that touch the node's datacenter (the partition of dc-a) match too.
    for (const line of eventLines) expect(line).toMatch(/dc-a\/frontend-1|FAULT #2/);
    expect(eventLines.some((line) => / (recv|DROP) #\d+ .*-> dc-a\/frontend-1/.test(line))).toBe(true);
  });

  it('f follows the selected event: publish, lookup, forward, deliveries', async () => {
    open(100, 30);
    await goTo('0.04s');
    await shows('0.040000s /');
    // The latest record at 40 ms is the publish of ev-4; select it and follow.
    const selected = frame()
      .split('\n')
      .find((line) => line.startsWith('›'))!;
    expect(selected).toMatch(/ev-4/);
    await press('f');
    const text = await shows('Path of ev-4');
    expect(text).toContain('published on likes-1');
    expect(text).toContain('store lookup');
    await press('f');
    await shows('Events');
    await press(keys.up, keys.up, 'f');
    await shows('Follow');
  });

  it("the followed path wraps, so a drop's reason and a loss's cause are whole at 160 and at 80 columns", async () => {
    // ev-4's frontend in dc-a is dead when it arrives (target-dead, fault #1), and dc-b's frontend
    // swallows it (the planted unexplained loss): both reasons come at the end of long lines.
    const drop = 'DROPPED +242us, target-dead (fault #1 kill dc-a/frontend-1)';
    const loss = 'no fault on the path: the frontend received the event and sent nothing, UNEXPLAINED';
    const unwrapped = (rows: string[]): string => rows.map((row) => row.trim()).join(' ');
    open(160, 50);
    await goTo('ev-4');
    let text = await shows('Path of ev-4');
    // Side by side from 140 columns: the follow pane is the right half.
    const pane = text.split('\n').map((line) => line.slice(80));
    expect(unwrapped(pane)).toContain(drop);
    expect(unwrapped(pane)).toContain(loss);
    screen!.unmount();
    open(80, 24);
    await goTo('ev-4');
    text = await shows('Path of ev-4');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    const seen = text.split('\n');
    // Scroll to the end of the path, in one burst.
    screen!.stdin.write(keys.down.repeat(40));
    text = await shows(/Follow ev-4 .* \d+-(\d+)\/\1$/m);
    seen.push(...text.split('\n'));
    expect(unwrapped(seen)).toContain(drop);
    expect(unwrapped(seen)).toContain(loss);
    // Scrolling stops at the end: one ↑ after too many ↓ moves up one row at once.
    const [, from, to, total] = /(\d+)-(\d+)\/(\d+)$/m.exec(text)!.map(Number);
    await press(keys.up);
    await shows(`${from! - 1}-${to! - 1}/${total}`);
  });

  it('g with an event id jumps to its publish and follows it', async () => {
    open(100, 30);
    await goTo('ev-12');
    const text = await shows('Path of ev-12');
    expect(text).toContain(`${formatTime(index.publishTime('ev-12')!)} /`);
  });

  it('n and p jump between violations, selecting the event and showing the chain', async () => {
    open();
    await press('n');
    let text = await shows('Violation 1/2');
    expect(text).toContain('explained-loss');
    expect(text).toContain(`${formatTime(index.violations[0]!.t)} /`);
    expect(text).toContain('Follow ev-4');
    expect(text).toContain('delivered to nobody');
    await press('n');
    text = await shows('Violation 2/2');
    expect(text).toContain('no-duplicates');
    expect(text).toContain(`Follow ${facts.buggyEvents[1]}`);
    await press('n');
    await shows('Violation 1/2');
    await press('p');
    await shows('Violation 2/2');
    await press('v');
    text = await shows('Violations (2)');
    expect(text).toMatch(/1\. [\d.]+s explained-loss ev-4/);
    expect(text).toMatch(/2\. [\d.]+s no-duplicates ev-34/);
  });

  it('after any other move, n and p search from the time shown', async () => {
    open();
    await press('n');
    await shows('Violation 1/2');
    await goTo('0.15s');
    await shows('0.150000s /');
    await press('n');
    await shows('Violation 2/2');
    await goTo('0.15s');
    await shows('0.150000s /');
    await press('p');
    await shows('Violation 1/2');
  });

  it('space at the end of the run plays it again from the start', async () => {
    open(80, 24, 10);
    await goTo('100%');
    await shows(`${formatTime(index.endT)} / ${formatTime(index.endT)}`);
    await press(' ');
    await shows('playing');
    await shows(/seed 1 {2}0\.[0-2]\d{5}s \//);
  });

  it('? shows the help, esc goes back to the events', async () => {
    open();
    await press('?');
    const text = await shows('Keys');
    expect(text).toContain('play / pause');
    // Every key fits at 80x24: help takes the screen between header and footer.
    expect(text).toContain('this help / quit');
    expect(text).toContain('! violation');
    await press(keys.escape);
    await shows('Events');
  });

  it('a terminal too small for boxes gets one line per datacenter, naming the nodes that are down', async () => {
    open(64, 18);
    await goTo('80ms');
    const text = await shows('0.080000s /');
    expect(text).toContain('dc-a: DOWN frontend-1 · frontends 1/2 up');
    expect(text).toContain('dc-b: frontends 2/2 up 8c');
    expect(text.split('\n').length).toBeLessThanOrEqual(18);
    expect(text).toContain('Events');
  });

  it("follows the terminal's size and redraws when it is resized", async () => {
    screen = render(<App index={index} />);
    const stdout = screen.stdout as unknown as { columns: number; rows: number; emit(event: string): void };
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
    open(80, 24);
    const small = (await shows('Events')).split('\n').filter((l) => /^[ ›]\d+\.\d{6}s /.test(l)).length;
    screen!.unmount();
    open(150, 40);
    await goTo('0.3s');
    const large = (await shows('0.300000s /')).split('\n').filter((l) => /^[ ›]\d+\.\d{6}s /.test(l)).length;
    expect(large).toBeGreaterThan(small);
    await press('n');
    const both = await shows('Violation 1/2');
    expect(both).toContain('Events');
    expect(both).toContain('frontend-1 up');
  });
});
