/**
 * The replay's controller: everything a key or a playback tick changes is one value, `Screen`,
 * and `step` gives the screen after one action. It is pure given the trace: the same screen,
 * action and trace give the same screen, with no React, no ink and no clock, so every key is
 * tested by calling it.
 *
 * Rules:
 * - the current time `t` is the only position; the world shown is the one after every record at or
 *   before `t`. Stepping (← →) moves to the previous or next time at which something happened;
 * - each key acts on the screen the key before it left, never on the last frame drawn: a terminal
 *   delivers a burst of keys faster than React renders, and five ↑ must move five rows
 *   (`keyPresses` splits a burst of typed characters into keys, for the same reason);
 * - a prompt (g, /) takes every key until Enter or Esc; any other key clears the footer's message;
 * - n/p go from the violation they last jumped to; any other move forgets it, so n/p then search
 *   from the time shown;
 * - reading the trace can fail (the file changed on disk): the screen then carries the failure,
 *   and the replay ends with it.
 */
import type { Key } from 'ink';
import { unreachable } from '../../core/index.ts';
import { type Filter, parseFilter } from './filter.ts';
import { formatTime, parseTime } from './format.ts';
import { eventOfRecord } from '../../sim/index.ts';
import type { FollowReader, FollowTarget, WindowReader } from './screen-readers.ts';
import type { Entry, TraceIndex, Window } from './trace-index.ts';

/** Playback speeds, as simulated time per real time. */
export const speeds = [0.001, 0.01, 0.1, 0.25, 0.5, 1, 2, 5, 10] as const;
const defaultSpeed = 2;

export type Pane = 'events' | 'follow' | 'violations' | 'help';
export type Prompt = { kind: 'goto' | 'filter'; text: string } | null;

/** Everything a key or a playback tick can change. */
export interface Screen {
  /** The current time, microseconds. */
  t: number;
  playing: boolean;
  /** Index into `speeds`. */
  speed: number;
  filter: Filter | null;
  prompt: Prompt;
  /** One line for the footer until the next key: an answer, an error, or where the replay opened. */
  message: string | null;
  pane: Pane;
  followed: FollowTarget;
  /** The violation n/p last jumped to; any other move forgets it, so n/p then search from the time shown. */
  violation: number | null;
  /** The selected record by line; null (or a line no longer shown) selects the last one at or before `t`. */
  selectedLine: number | null;
  /** The first row of the followed path shown. */
  scroll: number;
  quit: boolean;
  /** Reading the trace failed (it changed on disk): the replay ends with this error. */
  failure: Error | null;
}

/** A key without a character of its own. */
export type KeyName = 'up' | 'down' | 'left' | 'right' | 'home' | 'end' | 'return' | 'escape' | 'backspace';

/** One key as the controller reads it. */
export interface KeyPress {
  /** The character typed; empty for a named key. */
  input: string;
  name: KeyName | null;
  shift: boolean;
  /** Ctrl or meta held: the key is never text for a prompt. */
  modified: boolean;
}

export type Action = { kind: 'key'; key: KeyPress } | { kind: 'tick'; tickMs: number };

/** What `step` reads besides the screen: the trace, and what the panes show as they show it. */
export interface Context {
  index: TraceIndex;
  windowAt: WindowReader;
  followRows: FollowReader;
  /** Rows of records, or of the followed path, a pane shows below its title. */
  listRows: number;
}

/** The keys in what ink read at once: one key, or a burst of typed characters (`50%\r`) one by one. */
export function keyPresses(input: string, key: Key): KeyPress[] {
  const modified = key.ctrl || key.meta;
  if (input.length > 1 && !modified) {
    return [...input].map((char) => ({
      input: char,
      name:
        char === '\r' || char === '\n' ? 'return' : char === '\u007F' || char === '\b' ? 'backspace' : null,
      shift: false,
      modified: false,
    }));
  }
  return [{ input, name: keyName(key), shift: key.shift, modified }];
}

function keyName(key: Key): KeyName | null {
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.home) return 'home';
  if (key.end) return 'end';
  if (key.return) return 'return';
  if (key.escape) return 'escape';
  // Most terminals send DEL (0x7f) for Backspace, which ink calls `delete`.
  if (key.backspace || key.delete) return 'backspace';
  return null;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Where the replay opens: just before the first fault, or without faults just before the first
 * publish, since until then a run shows only viewers joining. The world shown is still the one
 * before it, its record is among the next ones listed, and → or play shows it happen. Says so, and
 * how to go to the start.
 */
export function openingScreen(index: TraceIndex): Screen {
  const fault = index.faults[0];
  const publish = index.firstPublishTime();
  const [at, what] =
    fault !== undefined
      ? [fault.start, 'the first fault']
      : publish !== null
        ? [publish, 'the first publish']
        : [0, ''];
  let t = 0;
  let failure: Error | null = null;
  try {
    t = at > 0 ? (index.previousTime(at) ?? 0) : 0;
  } catch (error) {
    failure = asError(error);
  }
  return {
    t,
    playing: false,
    speed: defaultSpeed,
    filter: null,
    prompt: null,
    message: at > 0 ? `opened just before ${what}, at ${formatTime(at)}; Home or 0: the start` : null,
    pane: 'events',
    followed: null,
    violation: null,
    selectedLine: null,
    scroll: 0,
    quit: false,
    failure,
  };
}

/** The records the records pane lists, and which of them is selected. */
export function selection(
  window: Window,
  selectedLine: number | null,
): { entries: Entry[]; selected: number } {
  const entries = [...window.before, ...window.after];
  const found = selectedLine === null ? -1 : entries.findIndex((entry) => entry.line === selectedLine);
  return { entries, selected: found >= 0 ? found : window.before.length - 1 };
}

/** The screen after one action; a failure to read the trace ends up in `failure`, never thrown. */
export function step(context: Context, screen: Screen, action: Action): Screen {
  try {
    switch (action.kind) {
      case 'tick':
        return onTick(context.index, screen, action.tickMs);
      case 'key':
        return onKey(context, screen, action.key);
      default:
        return unreachable(action);
    }
  } catch (error) {
    return { ...screen, failure: screen.failure ?? asError(error) };
  }
}

/** Playback: simulated time advances by the speed times the real time of a tick, and stops at the end. */
function onTick(index: TraceIndex, screen: Screen, tickMs: number): Screen {
  if (!screen.playing || screen.t >= index.endT) return screen;
  const advance = Math.max(1, Math.round(speeds[screen.speed]! * tickMs * 1000));
  const t = Math.min(index.endT, screen.t + advance);
  return { ...screen, t, playing: t < index.endT };
}

function onKey(context: Context, screen: Screen, key: KeyPress): Screen {
  if (screen.prompt) return onPromptKey(context.index, screen, screen.prompt, key);
  const cleared: Screen = { ...screen, message: null };
  return key.name === null
    ? onCharacter(context, cleared, key.input)
    : onNamedKey(context, cleared, key.name, key.shift);
}

function onPromptKey(index: TraceIndex, screen: Screen, prompt: NonNullable<Prompt>, key: KeyPress): Screen {
  switch (key.name) {
    case 'return':
      return confirmPrompt(index, { ...screen, prompt: null }, prompt);
    case 'escape':
      return { ...screen, prompt: null };
    case 'backspace':
      return { ...screen, prompt: { ...prompt, text: prompt.text.slice(0, -1) } };
    case null:
      return key.input !== '' && !key.modified
        ? { ...screen, prompt: { ...prompt, text: prompt.text + key.input } }
        : screen;
    case 'up':
    case 'down':
    case 'left':
    case 'right':
    case 'home':
    case 'end':
      return screen;
    default:
      return unreachable(key.name);
  }
}

function onNamedKey(context: Context, s: Screen, name: KeyName, shift: boolean): Screen {
  const { index } = context;
  switch (name) {
    case 'home':
      return moveTo(index, { ...s, playing: false }, 0);
    case 'end':
      return moveTo(index, { ...s, playing: false }, index.endT);
    case 'left':
    case 'right': {
      const paused = { ...s, playing: false };
      const forward = name === 'right';
      if (shift) {
        const jump = Math.max(1, Math.round(index.endT / 50));
        return moveTo(index, paused, s.t + (forward ? jump : -jump));
      }
      const next = forward ? index.nextTime(s.t) : index.previousTime(s.t);
      if (next === null)
        return { ...paused, message: forward ? 'at the end of the trace' : 'at the start of the trace' };
      return moveTo(index, paused, next);
    }
    case 'up':
    case 'down':
      return select(context, s, name === 'up' ? -1 : 1);
    case 'escape':
      return { ...s, pane: 'events' };
    case 'return':
    case 'backspace':
      return s;
    default:
      return unreachable(name);
  }
}

function onCharacter(context: Context, s: Screen, input: string): Screen {
  const { index } = context;
  switch (input) {
    case 'q':
      return { ...s, quit: true };
    case ' ':
      // At the end, play starts over from the beginning.
      if (!s.playing && s.t >= index.endT) return { ...moveTo(index, s, 0), playing: true };
      return { ...s, playing: !s.playing };
    case '0':
      return moveTo(index, { ...s, playing: false }, 0);
    case '+':
    case '=':
      return { ...s, speed: Math.min(speeds.length - 1, s.speed + 1) };
    case '-':
    case '_':
      return { ...s, speed: Math.max(0, s.speed - 1) };
    case 'g':
      return { ...s, playing: false, prompt: { kind: 'goto', text: '' } };
    case '/':
      return { ...s, playing: false, prompt: { kind: 'filter', text: s.filter?.text ?? '' } };
    case 'n':
    case 'p':
      return nextViolation(index, s, input === 'n' ? 1 : -1);
    case 'f':
      return follow(context, s);
    case 'v':
      return { ...s, pane: s.pane === 'violations' ? 'events' : 'violations' };
    case '?':
      return { ...s, pane: s.pane === 'help' ? 'events' : 'help' };
    default:
      return s;
  }
}

const moveTo = (index: TraceIndex, screen: Screen, t: number): Screen => ({
  ...screen,
  t: Math.max(0, Math.min(index.endT, t)),
  selectedLine: null,
  violation: null,
});

/** ↑/↓: scroll the followed path, or move the selection among the records listed. */
function select(context: Context, s: Screen, by: -1 | 1): Screen {
  if (s.pane === 'follow') {
    const last = Math.max(0, context.followRows(s.followed).length - context.listRows);
    return { ...s, scroll: Math.max(0, Math.min(last, s.scroll + by)) };
  }
  const { entries, selected } = selection(context.windowAt(s.t, s.filter), s.selectedLine);
  const entry = entries[Math.max(0, Math.min(entries.length - 1, selected + by))];
  return entry ? { ...s, selectedLine: entry.line } : s;
}

/** f: follow the selected record's event, or close the followed path. */
function follow(context: Context, s: Screen): Screen {
  if (s.pane === 'follow') return { ...s, pane: 'events' };
  const { entries, selected } = selection(context.windowAt(s.t, s.filter), s.selectedLine);
  const entry = entries[selected];
  const record = entry?.record;
  const e = record?.k === 'recv' || record?.k === 'drop' ? entry?.send?.e : record && eventOfRecord(record);
  if (!e) return { ...s, message: 'the selected record carries no event; select one with ↑/↓' };
  return { ...s, followed: { e, violation: null }, scroll: 0, pane: 'follow' };
}

/** n (`by` 1) and p (-1). */
function nextViolation(index: TraceIndex, s: Screen, by: 1 | -1): Screen {
  const count = index.violations.length;
  if (count === 0) return { ...s, message: 'no violations in this trace' };
  let i: number;
  if (s.violation === null) {
    // From the current time: the first violation after it (n) or the last before it (p).
    i =
      by === 1
        ? index.violations.findIndex((v) => v.t > s.t)
        : index.violations.findLastIndex((v) => v.t < s.t);
    if (i < 0) i = by === 1 ? 0 : count - 1;
  } else i = (s.violation + by + count) % count;
  return jumpToViolation(index, { ...s, playing: false }, i);
}

function jumpToViolation(index: TraceIndex, screen: Screen, i: number): Screen {
  const entry = index.violations[i]!;
  return {
    ...moveTo(index, screen, entry.t),
    violation: i,
    selectedLine: entry.line,
    scroll: 0,
    followed: { e: entry.violation.e ?? '', violation: i },
    pane: 'follow',
    message: null,
  };
}

function confirmPrompt(index: TraceIndex, screen: Screen, prompt: NonNullable<Prompt>): Screen {
  if (prompt.kind === 'filter') {
    let filter: Filter | null;
    try {
      filter = parseFilter(prompt.text);
    } catch (error) {
      return { ...screen, message: (error as Error).message };
    }
    return { ...screen, filter, selectedLine: null, pane: 'events', message: null };
  }
  const text = prompt.text.trim();
  const published = index.publishTime(text);
  if (published !== null) {
    return {
      ...moveTo(index, screen, published),
      followed: { e: text, violation: null },
      pane: 'follow',
      scroll: 0,
      message: null,
    };
  }
  const time = parseTime(text, index.endT);
  if (time === null)
    return { ...screen, message: `not a time or an event id: "${text}" (try 12.5s, 300ms, 1200us, 50%)` };
  return { ...moveTo(index, screen, time), message: null };
}
