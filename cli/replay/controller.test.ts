// Goal: every key and playback tick does what the footer and the help promise, each key acting on
// the screen the key before it left (bursts included), and the controller is a pure function of
// the screen, the action and the trace.
// Method: no ink, no React: `step` called on a real simulator trace (test-traces.ts: kill of
// dc-a/frontend-1 2-3 s, partition 3.5-4.5 s, planted bugs giving violations), its screens compared
// with what the index says.
import type { Key } from 'ink';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Action,
  type Context,
  type KeyName,
  type KeyPress,
  type Screen,
  keyPresses,
  openingScreen,
  selection,
  speeds,
  step,
} from './controller.ts';
import { followReader, windowReader } from './screen-readers.ts';
import { faultyTimesUs, writeTestTrace } from './test-traces.ts';
import { TraceIndex } from './trace-index.ts';

let dir: string;
let index: TraceIndex;
let context: Context;
const [killUs] = faultyTimesUs.kill;

function contextFor(of: TraceIndex): Context {
  const listRows = 20;
  return { index: of, windowAt: windowReader(of, listRows, 3), followRows: followReader(of, 80), listRows };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-controller-'));
  index = new TraceIndex(writeTestTrace(dir, 'faulty').path, { checkpointEvery: 64 });
  context = contextFor(index);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const named = (name: KeyName, shift = false): KeyPress => ({ input: '', name, shift, modified: false });
const typed = (input: string): KeyPress => ({ input, name: null, shift: false, modified: false });
/** The keys of several characters typed at once, as a terminal delivers them (one character: `typed`). */
const typing = (text: string): KeyPress[] => keyPresses(text, inkKey({}));

/** Feed keys (or ticks) one after the other, each to the screen the one before left. */
function press(screen: Screen, ...keys: (KeyPress | KeyPress[] | Action)[]): Screen {
  let s = screen;
  for (const key of keys.flat()) s = step(context, s, 'kind' in key ? key : { kind: 'key', key });
  return s;
}

const opening = (): Screen => openingScreen(index);
const at = (t: number): Screen => ({ ...opening(), t, message: null });

/** The selected record's line, as the records pane shows it. */
const selectedLine = (s: Screen): number => {
  const { entries, selected } = selection(context.windowAt(s.t, s.filter), s.selectedLine);
  return entries[selected]!.line;
};

function inkKey(flags: Partial<Key>): Key {
  return {
    upArrow: false,
    downArrow: false,
    leftArrow: false,
    rightArrow: false,
    pageDown: false,
    pageUp: false,
    home: false,
    end: false,
    return: false,
    escape: false,
    ctrl: false,
    shift: false,
    tab: false,
    backspace: false,
    delete: false,
    meta: false,
    super: false,
    hyper: false,
    capsLock: false,
    numLock: false,
    ...flags,
  };
}

describe('keys as ink reads them', () => {
  it('one key: its name, shift and modifiers', () => {
    expect(keyPresses('', inkKey({ upArrow: true }))).toEqual([named('up')]);
    expect(keyPresses('', inkKey({ rightArrow: true, shift: true }))).toEqual([named('right', true)]);
    // Most terminals send DEL for Backspace, which ink calls delete.
    expect(keyPresses('', inkKey({ delete: true }))).toEqual([named('backspace')]);
    expect(keyPresses('', inkKey({ escape: true, meta: true }))).toEqual([
      { input: '', name: 'escape', shift: false, modified: true },
    ]);
    expect(keyPresses('n', inkKey({}))).toEqual([typed('n')]);
  });

  it('a burst of typed characters, one key each, Enter and Backspace named', () => {
    expect(typing('50%\r')).toEqual([typed('5'), typed('0'), typed('%'), { ...typed('\r'), name: 'return' }]);
    expect(typing('a\u007Fb').map((key) => key.name)).toEqual([null, 'backspace', null]);
    // A modified key is never split: ctrl and meta chunks are not text.
    expect(keyPresses('ab', inkKey({ meta: true }))).toHaveLength(1);
  });
});

describe('the controller', () => {
  it('opens just before the first fault, says so, and the first key clears the message', () => {
    const s = opening();
    expect(s.t).toBe(index.previousTime(killUs));
    expect(s.message).toBe('opened just before the first fault, at 2.000000s; Home or 0: the start');
    expect(s.pane).toBe('events');
    expect(s.playing).toBe(false);
    expect(press(s, named('right')).message).toBeNull();
    expect(press(s, typed('x')).message).toBeNull();
  });

  it('without faults it opens just before the first publish', () => {
    const calm = new TraceIndex(writeTestTrace(dir, 'calm').path);
    const s = openingScreen(calm);
    expect(s.t).toBe(calm.previousTime(calm.firstPublishTime()!));
    expect(s.message).toMatch(/^opened just before the first publish, at /);
  });

  it('→ and ← step to the next and previous times something happened; at the ends they say so', () => {
    const s = at(0);
    const first = index.nextTime(0)!;
    expect(press(s, named('right')).t).toBe(first);
    expect(press(s, named('right'), named('right'), named('left')).t).toBe(first);
    expect(press(s, named('left')).message).toBe('at the start of the trace');
    expect(press(at(index.endT), named('right')).message).toBe('at the end of the trace');
  });

  it('shift+→ and shift+← jump by a fiftieth of the run, within it; Home, 0 and End go to the ends', () => {
    const jump = Math.round(index.endT / 50);
    expect(press(at(0), named('right', true), named('right', true), named('left', true)).t).toBe(jump);
    expect(press(at(0), named('left', true)).t).toBe(0);
    expect(press(at(index.endT), named('right', true)).t).toBe(index.endT);
    expect(press(at(3_000_000), named('home')).t).toBe(0);
    expect(press(at(3_000_000), typed('0')).t).toBe(0);
    expect(press(at(3_000_000), named('end')).t).toBe(index.endT);
  });

  it('space plays and pauses; a tick advances by the speed times the real time, and playing stops at the end', () => {
    const playing = press(at(1_000_000), typed(' '));
    expect(playing.playing).toBe(true);
    expect(speeds[playing.speed]).toBe(0.1);
    // 100 ms of real time at 0.1x: 10 ms of simulated time.
    expect(press(playing, { kind: 'tick', tickMs: 100 }).t).toBe(1_010_000);
    expect(press(at(1_000_000), { kind: 'tick', tickMs: 100 }).t).toBe(1_000_000);
    const nearEnd = { ...playing, t: index.endT - 5_000 };
    const ended = press(nearEnd, { kind: 'tick', tickMs: 100 });
    expect(ended.t).toBe(index.endT);
    expect(ended.playing).toBe(false);
    // At the end, space plays again from the start.
    const again = press(ended, typed(' '));
    expect([again.t, again.playing]).toEqual([0, true]);
    expect(press(playing, typed(' ')).playing).toBe(false);
  });

  it('+ and - change the speed within its range', () => {
    const s = at(0);
    expect(speeds[press(s, typed('+')).speed]).toBe(0.25);
    expect(speeds[press(s, typed('-'), typed('-'), typed('-'), typed('-')).speed]).toBe(0.001);
    expect(speeds[press(s, ...Array.from({ length: 20 }, () => typed('=')), typed('_')).speed]).toBe(5);
  });

  it('a burst of five ↑ moves the selection five rows, five ↓ move it back, whatever was drawn between', () => {
    const s = at(3_000_000);
    const { entries, selected } = selection(context.windowAt(s.t, null), null);
    const up = press(s, ...Array.from({ length: 5 }, () => named('up')));
    expect(up.selectedLine).toBe(entries[selected - 5]!.line);
    const back = press(up, ...Array.from({ length: 5 }, () => named('down')));
    expect(back.selectedLine).toBe(entries[selected]!.line);
    // The selection stops at the first and the last record listed.
    expect(selectedLine(press(s, ...Array.from({ length: 100 }, () => named('up'))))).toBe(entries[0]!.line);
    expect(selectedLine(press(s, ...Array.from({ length: 100 }, () => named('down'))))).toBe(
      entries.at(-1)!.line,
    );
  });

  it('↑↑f follows the record two rows up; f again closes the path', () => {
    const { e, t } = middlePublish();
    const s = at(t);
    const { entries, selected } = selection(context.windowAt(t, null), null);
    const target = entries[selected - 2]!;
    const followed = press(s, named('up'), named('up'), typed('f'));
    expect(followed.pane).toBe('follow');
    expect(followed.followed).toEqual({
      e: target.record.k === 'recv' ? target.send?.e : e,
      violation: null,
    });
    expect(press(followed, typed('f')).pane).toBe('events');
  });

  it('f on a record that carries no event says how to select one', () => {
    const s = at(index.run.t);
    const conn = context.windowAt(300_000, null).before.find((entry) => entry.record.k === 'conn')!;
    const onConn = press({ ...s, t: 300_000, selectedLine: conn.line }, typed('f'));
    expect(onConn.pane).toBe('events');
    expect(onConn.message).toBe('the selected record carries no event; select one with ↑/↓');
  });

  it('↓ in the follow pane scrolls the path, never past its end', () => {
    const { e } = middlePublish();
    const s = press(at(0), typing('g'), typing(e), named('return'));
    const rows = context.followRows(s.followed).length;
    expect(rows).toBeGreaterThan(context.listRows);
    const scrolled = press(s, ...Array.from({ length: 200 }, () => named('down')));
    expect(scrolled.scroll).toBe(rows - context.listRows);
    expect(press(scrolled, named('up')).scroll).toBe(rows - context.listRows - 1);
  });

  it('g takes a time, a percentage or an event id; a bad answer is explained; esc cancels', () => {
    const prompted = press(at(0), typed('g'));
    expect(prompted.prompt).toEqual({ kind: 'goto', text: '' });
    expect(press(prompted, typing('3.5s\r')).t).toBe(3_500_000);
    expect(press(prompted, typing('50%\r')).t).toBe(Math.round(index.endT / 2));
    // Backspace takes back a character, and keys other than text do not reach the prompt.
    expect(press(prompted, typing('12'), named('backspace'), named('up'), typing('s\r')).t).toBe(1_000_000);
    expect(press(prompted, typing('soon\r')).message).toBe(
      'not a time or an event id: "soon" (try 12.5s, 300ms, 1200us, 50%)',
    );
    const cancelled = press(prompted, typing('3s'), named('escape'));
    expect([cancelled.prompt, cancelled.t]).toEqual([null, 0]);
    const { e, t } = middlePublish();
    const followed = press(prompted, typing(e), named('return'));
    expect([followed.t, followed.pane, followed.followed]).toEqual([t, 'follow', { e, violation: null }]);
  });

  it('/ sets the filter (and shows the current one to edit); an unknown prefix is explained', () => {
    const filtered = press(at(3_000_000), typing('/topic:likes-2\r'));
    expect(filtered.filter?.text).toBe('topic:likes-2');
    expect(press(filtered, typed('/')).prompt).toEqual({ kind: 'filter', text: 'topic:likes-2' });
    const cleared = press(
      filtered,
      typed('/'),
      ...Array.from({ length: 13 }, () => named('backspace')),
      named('return'),
    );
    expect(cleared.filter).toBeNull();
    expect(press(at(0), typing('/zz:1\r')).message).toBe(
      'unknown filter "zz:" (use node:, topic:, conn:, e: or kind:)',
    );
  });

  it('n and p jump between violations, following the event with the chain; they wrap around', () => {
    const count = index.violations.length;
    const first = press(at(0), typed('n'));
    expect(first.violation).toBe(0);
    expect(first.t).toBe(index.violations[0]!.t);
    expect(first.pane).toBe('follow');
    expect(first.selectedLine).toBe(index.violations[0]!.line);
    expect(first.followed).toEqual({ e: index.violations[0]!.violation.e, violation: 0 });
    expect(press(first, typed('n')).violation).toBe(1);
    expect(press(first, typed('p')).violation).toBe(count - 1);
    expect(press(first, typed('p'), typed('n')).violation).toBe(0);
    // From where the replay opens, n goes to the first violation after it.
    const after = index.violations.findIndex((v) => v.t > opening().t);
    expect(press(opening(), typed('n')).violation).toBe(after);
  });

  it('after any other move, n and p search from the time shown', () => {
    const times = index.violations.map((entry) => entry.t);
    const i = times.findIndex((t, j) => j > 0 && t > times[j - 1]!) - 1;
    const between = Math.floor((times[i]! + times[i + 1]!) / 2);
    const jumped = press(at(0), typed('n'));
    const moved = { ...press(jumped, named('home')), t: between };
    expect(moved.violation).toBeNull();
    expect(press(moved, typed('n')).violation).toBe(i + 1);
    expect(press(moved, typed('p')).violation).toBe(i);
  });

  it('v and ? open and close their panes, esc goes back to the records, q quits', () => {
    const s = at(0);
    expect(press(s, typed('v')).pane).toBe('violations');
    expect(press(s, typed('v'), typed('v')).pane).toBe('events');
    expect(press(s, typed('?')).pane).toBe('help');
    expect(press(s, typed('?'), named('escape')).pane).toBe('events');
    expect(press(s, typed('q')).quit).toBe(true);
    expect(press(s, typing('gq')).quit).toBe(false);
  });

  it('is pure: the same screen and action give the same screen, and the screen given is left as it was', () => {
    const s = press(at(3_000_000), named('up'));
    const frozen = JSON.stringify(s);
    for (const key of [named('up'), named('right'), typed('n'), typed('f'), typed('g'), typed(' ')]) {
      expect(step(context, s, { kind: 'key', key })).toEqual(step(context, s, { kind: 'key', key }));
    }
    expect(JSON.stringify(s)).toBe(frozen);
  });

  it('a trace changed on disk ends in `failure`, never in a throw', () => {
    const copy = join(dir, 'copy.jsonl');
    writeFileSync(copy, readFileSync(index.path));
    const changing = new TraceIndex(copy, { checkpointEvery: 64 });
    writeFileSync(copy, 'truncated\n');
    const s = step(contextFor(changing), at(3_000_000), { kind: 'key', key: named('right') });
    expect(s.failure?.message).toMatch(/copy\.jsonl changed since it was opened/);
    expect(s.t).toBe(3_000_000);
  });
});

/** A publish in the middle of the run: its event and its time. */
function middlePublish(): { e: string; t: number } {
  const publish = index
    .window(index.endT / 2, 0, 200)
    .after.find((entry) => entry.record.k === 'publish')!.record;
  return { e: (publish as { e: string }).e, t: publish.t };
}
