// Goal: the replay screen shows what the trace says at the chosen time, and every key does what the
// footer promises. Method: a real simulator run (test-traces.ts: kill of dc-a/frontend-1 2-3 s,
// partition dc-a|dc-b 3.5-4.5 s, planted bugs giving explained-loss and no-duplicates violations)
// rendered with ink-testing-library (test-screen.tsx); keys written to stdin, visible text asserted
// against the index. How the screen uses its size: app-layout.test.tsx.
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

let dir: string;
let index: TraceIndex;
const [killUs, restartUs] = faultyTimesUs.kill;
const [partitionUs, repairUs] = faultyTimesUs.partition;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-ui-'));
  index = new TraceIndex(writeTestTrace(dir, 'faulty').path, { checkpointEvery: 64 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(closeScreen);

/** A frontend's line in its datacenter box at time `t`, as the index has it. */
function frontendLine(id: string, t: number): string {
  const node = index
    .stateAt(t)
    .nodeViews()
    .find((view) => view.id === id)!;
  const name = id.replace(/^dc-.\/frontend-/, 'fe-');
  return node.alive ? `${name} up ${node.connections}c ${node.topics}t ${node.leases}l` : `${name} DOWN`;
}

/** The event of a publish in the middle of the run, and when it was published. */
function middleEvent(): { e: string; t: number } {
  const { after } = index.window(index.endT / 2, 0, 200);
  const publish = after.find((entry) => entry.record.k === 'publish')!.record;
  return { e: (publish as { e: string }).e, t: publish.t };
}

describe('replay screen', () => {
  it('opens just before the first fault and says so; Home and 0 go to the start, End to the end', async () => {
    openScreen(index);
    const kill = formatTime(killUs);
    const before = formatTime(index.previousTime(killUs)!);
    let text = await shows(`${before} / ${formatTime(index.endT)}`);
    expect(text).toContain(`opened just before the first fault, at ${kill}; Home or 0: the start`);
    // The world is still the one before the kill; → steps into it.
    expect(text).not.toContain('fe-1 DOWN');
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
    expect(text).toMatch(/^so far +(published|pub) 0 /m);
  });

  it('without faults it opens just before the first publish', async () => {
    const calm = new TraceIndex(writeTestTrace(dir, 'calm').path);
    expect(calm.faults).toHaveLength(0);
    renderScreen(<App index={calm} width={80} height={24} />);
    const first = calm.firstPublishTime()!;
    const text = await shows(
      `opened just before the first publish, at ${formatTime(first)}; Home or 0: the start`,
    );
    expect(text).toContain(`${formatTime(calm.previousTime(first)!)} /`);
    expect(text).toMatch(/^so far +(published|pub) 0 /m);
    expect(text).toMatch(/^ \d+\.\d{6}s publish ~dc-\S+ likes-/m);
  });

  it('while killed the frontend is DOWN and the kill is in force; restarted, it holds nothing', async () => {
    openScreen(index);
    const before = index.stateAt(killUs - 1).nodeViews();
    await goTo('2.5s');
    const text = await shows('2.500000s /');
    expect(text).toContain('fe-1 DOWN');
    expect(text).toContain('Faults: kill dc-a/frontend-1 (#1)');
    expect(text).toContain('Partitions: none');
    // Its viewers reconnect to frontend-2 after a backoff: it holds its own and theirs.
    const connections = (id: string): number => before.find((node) => node.id === id)!.connections;
    expect(frontendLine('dc-a/frontend-2', 2_500_000)).toContain(
      ` ${connections('dc-a/frontend-1') + connections('dc-a/frontend-2')}c `,
    );
    expect(text).toContain(`│${frontendLine('dc-a/frontend-2', 2_500_000)}`);
    // Restarted, it comes back empty: a crash loses the frontend's state.
    await goTo(formatTime(restartUs + 100_000));
    expect(await shows(`${formatTime(restartUs + 100_000)} /`)).toMatch(/│fe-1 up 0c 0t \dl/);
  });

  it('during the partition both datacenters say so; after it has healed, none does', async () => {
    openScreen(index);
    await goTo('4');
    let text = await shows('4.000000s /');
    expect(text).toContain('Partitions: dc-a | dc-b (#2)');
    expect(text).toContain('dc-a (partitioned)');
    expect(text).toContain('dc-b (partitioned)');
    expect(text).not.toContain('dc-c (partitioned)');
    await goTo(`${repairUs / 1000 + 500}ms`);
    text = await shows(`${formatTime(repairUs + 500_000)} /`);
    expect(text).toContain('Partitions: none');
    expect(text).not.toContain('(partitioned)');
    expect(text).toMatch(/fe-2 up \d+c 2t 2l/);
    expect(partitionUs).toBeLessThan(4_000_000);
  });

  it('right and left step to the next and previous times something happened', async () => {
    openScreen(index);
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
    openScreen(index, 100, 30);
    await goTo('3s');
    await shows('3.000000s /');
    const selectedRow = (): number =>
      frame()
        .split('\n')
        .findIndex((line) => line.startsWith('›'));
    const start = selectedRow();
    expect(start).toBeGreaterThan(8);
    write(keys.up.repeat(5));
    await vi.waitFor(() => expect(selectedRow()).toBe(start - 5), { timeout: 3000, interval: 5 });
    write(keys.down.repeat(5));
    await vi.waitFor(() => expect(selectedRow()).toBe(start), { timeout: 3000, interval: 5 });
  });

  it('keys of one burst build on each other: ↑↑f follows the record two rows up, ff opens and closes', async () => {
    openScreen(index, 100, 30);
    // At a publish's time the records listed last are its publish and the sends that carry it.
    const { t } = middleEvent();
    await goTo(formatTime(t));
    await shows(`${formatTime(t)} /`);
    const lines = frame().split('\n');
    const row = lines.findIndex((line) => line.startsWith('›'));
    const target = /(~\S+)/.exec(lines[row - 2]!)?.[1];
    expect(target).toBeDefined();
    write(`${keys.up}${keys.up}f`);
    await shows(`Path of ${target}`);
    write(keys.escape);
    await shows('Events (↑↓ select, f follow)');
    write('ff');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await shows('Events (↑↓ select, f follow)');
    expect(frame()).not.toContain('Follow');
  });

  it('shift+right and shift+left jump by a fiftieth of the run', async () => {
    openScreen(index);
    await press(keys.home);
    await shows('0.000000s /');
    const jump = Math.round(index.endT / 50);
    await press(keys.shiftRight, keys.shiftRight);
    await shows(`${formatTime(2 * jump)} /`);
    await press(keys.shiftLeft);
    await shows(`${formatTime(jump)} /`);
  });

  it('space plays and pauses; + and - change the speed', async () => {
    openScreen(index, 80, 24, 10);
    const opening = formatTime(index.previousTime(killUs)!);
    await shows(`${opening} /`);
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
    await vi.waitFor(() => expect(/seed 1 {2}(\d+\.\d+s) \//.exec(frame())?.[1]).not.toBe(opening), {
      timeout: 3000,
      interval: 5,
    });
    await press(' ');
    const paused = await shows('paused 1x');
    const at = /(\d+\.\d+s) \//.exec(paused)![1];
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(frame()).toContain(`${at} /`);
  });

  it('/ filters the events by event id, and an unknown prefix is explained', async () => {
    // Wide enough for a message line to show the event it carries.
    openScreen(index, 130, 30);
    const { e, t } = middleEvent();
    await goTo(formatTime(t + 100_000));
    await shows(`${formatTime(t + 100_000)} /`);
    await press('/');
    await shows('Filter (node:, topic:, conn:, e:)');
    await press(`e:${e}`, keys.enter);
    const text = await shows(`Events matching "e:${e}"`);
    const eventLines = text.split('\n').filter((line) => /^[ ›]\d+\.\d{6}s /.test(line));
    expect(eventLines.length).toBeGreaterThan(3);
    for (const line of eventLines) expect(line).toContain(e.slice(0, 60));
    await press('/');
    await press(...Array.from({ length: e.length + 2 }, () => '\u007F'), 'zz:1', keys.enter);
    await shows('unknown filter "zz:"');
  });

  it('/ filters by node, including recvs and drops of its messages and the faults that touch it', async () => {
    openScreen(index, 100, 30);
    await goTo('4s');
    await press('/', 'node:dc-a/frontend-1', keys.enter);
    const text = await shows('Events matching "node:dc-a/frontend-1"');
    const eventLines = text.split('\n').filter((line) => /^[ ›]\d+\.\d{6}s /.test(line));
    expect(eventLines.length).toBeGreaterThan(3);
    // Faults that touch the node's datacenter (the partition of dc-a) match too.
    expect(eventLines.some((line) => line.includes('FAULT #2 starts: partition dc-a | dc-b'))).toBe(true);
    for (const line of eventLines) expect(line).toMatch(/dc-a\/frontend-1|FAULT #2/);
    expect(eventLines.some((line) => / (recv|DROP) #\d+ .*-> dc-a\/frontend-1/.test(line))).toBe(true);
  });

  it('f follows the selected event: publish, lookup, forward, deliveries', async () => {
    openScreen(index, 100, 30);
    const { e, t } = middleEvent();
    await goTo(formatTime(t));
    await shows(`${formatTime(t)} /`);
    // The latest record at a publish's time is one that carries its event; select it and follow.
    const selected = frame()
      .split('\n')
      .find((line) => line.startsWith('›'))!;
    expect(selected).toContain(e);
    await press('f');
    const text = await shows(`Path of ${e}`);
    expect(text).toMatch(/published on likes-\d/);
    expect(text).toContain('store lookup');
    await press('f');
    await shows('Events');
    await press(keys.up, keys.up, 'f');
    await shows('Follow');
  });

  it('g with an event id jumps to its publish and follows it', async () => {
    openScreen(index, 100, 30);
    const { e, t } = middleEvent();
    await goTo(e);
    const text = await shows(`Path of ${e}`);
    expect(text).toContain(`${formatTime(t)} /`);
  });

  it('n and p jump between violations, selecting the event and showing the chain', async () => {
    const count = index.violations.length;
    const [first, second] = index.violations.map((entry) => entry.violation);
    openScreen(index, 120, 40);
    // From the start, n goes to the first violation (from where the replay opens, to the next one).
    await press(keys.home, 'n');
    let text = await shows(`Violation 1/${count}`);
    expect(text).toContain(`${first!.invariant}: ${first!.message}`.slice(0, 60));
    expect(text).toContain(`${formatTime(first!.t)} /`);
    expect(text).toContain(`Follow ${first!.e}`);
    expect(text).toContain('Chain:');
    expect(text).toContain(first!.chain[0]!.slice(0, 60));
    await press('n');
    text = await shows(`Violation 2/${count}`);
    expect(text).toContain(second!.message.slice(0, 60));
    await press('p', 'p');
    await shows(`Violation ${count}/${count}`);
    await press('n');
    await shows(`Violation 1/${count}`);
    await press('v');
    text = await shows(
      `Violations (${count} in detail, of ${index.totals.violations.toLocaleString('en-US')} counted)`,
    );
    expect(text).toContain(`1. ${formatTime(first!.t)} ${first!.invariant} ${first!.e}`);
    expect(text).toContain(`2. ${formatTime(second!.t)} ${second!.invariant} ${second!.e}`);
  });

  it('after any other move, n and p search from the time shown', async () => {
    // A time between two violations that are not at the same time.
    const times = index.violations.map((entry) => entry.t);
    const i = times.findIndex((t, j) => j > 0 && t > times[j - 1]!) - 1;
    const between = formatTime(Math.floor((times[i]! + times[i + 1]!) / 2));
    const count = times.length;
    openScreen(index);
    await press(keys.home, 'n');
    await shows(`Violation 1/${count}`);
    await goTo(between);
    await shows(`${between} /`);
    await press('n');
    await shows(`Violation ${i + 2}/${count}`);
    await goTo(between);
    await shows(`${between} /`);
    await press('p');
    await shows(`Violation ${i + 1}/${count}`);
  });

  it('space at the end of the run plays it again from the start', async () => {
    openScreen(index, 80, 24, 10);
    await goTo('100%');
    await shows(`${formatTime(index.endT)} / ${formatTime(index.endT)}`);
    await press(' ');
    await shows('playing');
    await shows(/seed 1 {2}0\.[0-2]\d{5}s \//);
  });

  it('? shows the help, esc goes back to the events', async () => {
    openScreen(index);
    await press('?');
    const text = await shows('Keys');
    expect(text).toContain('play / pause');
    // Every key fits at 80x24: help takes the screen between header and footer.
    expect(text).toContain('this help / quit');
    expect(text).toContain('! violation');
    await press(keys.escape);
    await shows('Events');
  });
});
