/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * The replay screen. From top to bottom: a header (scenario, seed, time, play state), one box per
 * datacenter with each node's state at the current time, the faults in force (partitions first),
 * a timeline with fault and violation markers, the counters so far above the whole run's, a pane
 * (events around the current time, or one followed event's path, or the violations, or help), and
 * a footer with the keys.
 *
 * The current time `t` is the only position: the world shown is the one after every record at or
 * before `t`. Stepping moves to the previous or next time at which something happened. Everything
 * shown is read from the trace index for that time, so scrubbing never holds the trace in memory.
 * The replay opens just before something happens (the first fault, or the first publish) and
 * says so.
 *
 * Everything a key or a playback tick changes is one value, `Screen`, changed only by `update`:
 * a terminal delivers a burst of keys faster than React renders, and each key must act on the
 * result of the one before it, never on the last frame drawn.
 */
import { Box, type Key, Text, useApp, useInput, useStdout } from 'ink';
import { type ReactElement, useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { type Filter, parseFilter } from './filter.ts';
import { describeFault, describeRecord, formatTime, parseTime, wrapText } from './format.ts';
import { type TraceRecord, eventOf } from './records.ts';
import type { Entry, Followed, TraceIndex, View, Window } from './trace-index.ts';
import { type Counters, type NodeView, zeroCounters } from './replay-state.ts';

/** Playback speeds, as simulated time per real time. */
export const speeds = [0.001, 0.01, 0.1, 0.25, 0.5, 1, 2, 5, 10] as const;
const defaultSpeed = 2;

export interface AppProps {
  index: TraceIndex;
  /** Fixed size (tests); otherwise the terminal's less one row, following resizes. */
  width?: number;
  height?: number;
  /** Real milliseconds between playback frames. */
  tickMs?: number;
}

type Pane = 'events' | 'follow' | 'violations' | 'help';
type Prompt = { kind: 'goto' | 'filter'; text: string } | null;

const keysWide =
  'space play  ←/→ step  shift+←/→ jump  +/- speed  g go to  n/p violation  f follow  / filter  v violations  ? help  q quit';
const keysNarrow = '␣ play ←→ step ⇧←→ jump +- speed g goto n/p viol f follow / filter ? help q quit';

const helpLines = [
  'space        play / pause',
  '← →          step to the previous / next time something happened',
  'Home/0  End  the start / the end of the run',
  'shift+← →    jump by 1/50 of the run',
  '+ -          playback speed (simulated time per real second)',
  'g            go to a time (12.5s, 300ms, 1200us, 50%) or an event id',
  'n p          next / previous violation: jump there and show its chain',
  '↑ ↓          select a record (or scroll the followed path)',
  "f            follow the selected record's event; again to close",
  '/            filter: node:ID (or a dc), topic:T, conn:C, e:ID, or a bare word',
  'v            list the violations          esc  back to the events',
  '? q          this help / quit',
  'Nodes: c connections, t topics, l leases.  Timeline: K kill, P partition,',
  'I isolate, J jitter storm, L loss burst, = a fault in force, ! violation, ▲ now.',
];

function eventOfEntry(entry: Entry): string | undefined {
  const record = entry.record;
  return record.k === 'recv' || record.k === 'drop' ? entry.send?.e : eventOf(record);
}

const isBad = (record: TraceRecord): boolean =>
  record.k === 'drop' ||
  record.k === 'client-drop' ||
  record.k === 'loss' ||
  record.k === 'violation' ||
  record.k === 'role-drop' ||
  (record.k === 'node' && record.op === 'down') ||
  record.k === 'fault';

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** `color: red` when something is wrong, nothing otherwise (ink's props take no explicit undefined). */
const red = (bad: boolean): { color?: string } => (bad ? { color: 'red' } : {});

function nodeLine(node: NodeView, dc: string, isolated: boolean, short: boolean): string {
  const local = node.id.startsWith(`${dc}/`) ? node.id.slice(dc.length + 1) : node.id;
  const name = short ? local.replace(/^frontend-/, 'fe-').replace(/^dispatcher-/, 'disp-') : local;
  if (!node.alive) return `${name} DOWN`;
  const tag = isolated ? ' isolated' : '';
  if (node.role === 'frontend')
    return `${name} up ${node.connections}c ${node.topics}t ${node.leases}l${tag}`;
  if (node.role === 'store') return `${name} up ${node.leases}l${tag}`;
  return `${name} up${tag}`;
}

function Topology(props: { index: TraceIndex; view: View; width: number; compact: boolean }): ReactElement {
  const { index, view } = props;
  const isolated = new Set(
    view.faults.flatMap((span) => (span.fault.kind === 'isolate' ? [span.fault.node] : [])),
  );
  const partitioned = new Set(
    view.faults.flatMap((span) => (span.fault.kind === 'partition' ? span.fault.between : [])),
  );
  if (props.compact) {
    // Too little room for boxes: one line per datacenter, the nodes that are down named.
    return (
      <Box flexDirection="column" width={props.width}>
        {index.datacenters.map((dc) => (
          <Text key={dc} wrap="truncate" {...red(partitioned.has(dc))}>
            {compactLine(
              dc,
              view.nodes.filter((node) => node.dc === dc),
              partitioned.has(dc),
            )}
          </Text>
        ))}
      </Box>
    );
  }
  const perRow = Math.max(1, Math.min(index.datacenters.length, Math.floor(props.width / 24)));
  const boxWidth = Math.floor(props.width / perRow);
  return (
    <Box flexWrap="wrap" width={props.width}>
      {index.datacenters.map((dc) => {
        const nodes = view.nodes.filter((node) => node.dc === dc);
        return (
          <Box
            key={dc}
            flexDirection="column"
            borderStyle="round"
            borderColor={partitioned.has(dc) ? 'red' : 'gray'}
            width={boxWidth}
            paddingX={0}
          >
            <Text bold wrap="truncate">
              {dc}
              {partitioned.has(dc) ? ' (partitioned)' : ''}
            </Text>
            {nodes.map((node) => (
              <Text key={node.id} {...red(!node.alive)} wrap="truncate">
                {nodeLine(node, dc, isolated.has(node.id), boxWidth < 30)}
              </Text>
            ))}
          </Box>
        );
      })}
    </Box>
  );
}

function compactLine(dc: string, nodes: NodeView[], partitioned: boolean): string {
  const count = (role: NodeView['role']): string => {
    const all = nodes.filter((node) => node.role === role);
    return `${all.filter((node) => node.alive).length}/${all.length}`;
  };
  const connections = nodes.reduce((sum, node) => sum + (node.role === 'frontend' ? node.connections : 0), 0);
  const leases = nodes.reduce((sum, node) => sum + (node.role === 'store' ? node.leases : 0), 0);
  const down = nodes.filter((node) => !node.alive).map((node) => node.id.slice(dc.length + 1));
  return (
    `${dc}${partitioned ? ' (partitioned)' : ''}: ${down.length ? `DOWN ${down.join(' ')} · ` : ''}` +
    `frontends ${count('frontend')} up ${connections}c · dispatchers ${count('dispatcher')} up · ` +
    `store ${count('store')} up ${leases}l`
  );
}

const faultLetter: Record<string, string> = {
  kill: 'K',
  partition: 'P',
  isolate: 'I',
  'jitter-storm': 'J',
  'loss-burst': 'L',
};

function timelineText(index: TraceIndex, t: number, width: number): [string, string] {
  const cells = Math.max(10, width);
  const span = Math.max(1, index.endT);
  const column = (us: number): number =>
    Math.min(cells - 1, Math.max(0, Math.floor((us / span) * (cells - 1))));
  const line = Array.from({ length: cells }, () => '─');
  for (const fault of index.faults) {
    const from = column(fault.start);
    const to = column(fault.end ?? index.endT);
    for (let i = from; i <= to; i++) line[i] = '=';
  }
  for (const fault of index.faults) line[column(fault.start)] = faultLetter[fault.fault.kind] ?? '?';
  for (const v of index.violations) line[column(v.t)] = '!';
  const at = column(t);
  const label = formatTime(t);
  const cursor = Array.from({ length: cells }, () => ' ');
  cursor[at] = '▲';
  const labelAt = at + 2 + label.length <= cells ? at + 2 : Math.max(0, at - 1 - label.length);
  for (let i = 0; i < label.length && labelAt + i < cells; i++)
    if (labelAt + i !== at) cursor[labelAt + i] = label[i]!;
  return [line.join(''), cursor.join('')];
}

function EventLine(props: {
  entry: Entry;
  selected: boolean;
  future: boolean;
  index: TraceIndex;
}): ReactElement {
  const { entry } = props;
  const text = `${formatTime(entry.record.t)} ${describeRecord(entry.record, entry.send, (f) => props.index.faultName(f))}`;
  return (
    <Text
      wrap="truncate"
      inverse={props.selected}
      dimColor={props.future && !props.selected}
      {...red(isBad(entry.record))}
    >
      {props.selected ? '›' : ' '}
      {text}
    </Text>
  );
}

/** One line of the follow pane; `bad` draws it red. */
type Row = { text: string; bad: boolean };

function followLines(followed: Followed, violationIndex: number | null, index: TraceIndex): Row[] {
  const lines: Row[] = [];
  const violation = violationIndex === null ? undefined : index.violations[violationIndex];
  if (violation) {
    const v = violation.violation;
    lines.push({
      text: `Violation ${violationIndex! + 1}/${index.violations.length} at ${formatTime(v.t)}: ${v.invariant}: ${v.message}`,
      bad: true,
    });
    lines.push({ text: 'Chain:', bad: false });
    for (const step of v.chain) lines.push({ text: `  ${step}`, bad: false });
  }
  if (followed.e === '') return lines;
  if (!followed.found) {
    lines.push({ text: `No publish of ${followed.e} in this trace.`, bad: false });
    return lines;
  }
  lines.push({
    text: `Path of ${followed.e}${followed.topic ? ` (${followed.topic})` : ''} in the trace:`,
    bad: false,
  });
  for (const step of followed.steps)
    lines.push({ text: `  ${formatTime(step.t)} ${step.text}`, bad: step.bad });
  return lines;
}

/** Everything a key or a playback tick can change. */
interface Screen {
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
  followed: { e: string; violation: number | null } | null;
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

type Action = { kind: 'key'; input: string; key: Key } | { kind: 'tick'; tickMs: number };

/** What `update` reads besides the screen: the trace, and what the panes show as they show it. */
interface Context {
  index: TraceIndex;
  windowAt: (t: number, filter: Filter | null) => Window;
  followRows: (followed: Screen['followed']) => Row[];
  /** Rows of records, or of the followed path, a pane shows below its title. */
  listRows: number;
}

/**
 * Where the replay opens: just before the first fault, or without faults just before the first
 * publish, since until then a run shows only viewers joining. The world shown is still the one
 * before it, its record is among the next ones listed, and → or play shows it happen. Says so, and
 * how to go to the start.
 */
function openingScreen(index: TraceIndex): Screen {
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

/** The records the events pane lists, and which of them is selected. */
function selection(window: Window, selectedLine: number | null): { entries: Entry[]; selected: number } {
  const entries = [...window.before, ...window.after];
  const found = selectedLine === null ? -1 : entries.findIndex((entry) => entry.line === selectedLine);
  return { entries, selected: found >= 0 ? found : window.before.length - 1 };
}

const moveTo = (index: TraceIndex, screen: Screen, t: number): Screen => ({
  ...screen,
  t: Math.max(0, Math.min(index.endT, t)),
  selectedLine: null,
  violation: null,
});

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

/** The screen after one key or tick. Pure: the same screen and action give the same screen. */
function update(context: Context, screen: Screen, action: Action): Screen {
  const { index } = context;
  if (action.kind === 'tick') {
    if (!screen.playing || screen.t >= index.endT) return screen;
    const step = Math.max(1, Math.round(speeds[screen.speed]! * action.tickMs * 1000));
    const t = Math.min(index.endT, screen.t + step);
    return { ...screen, t, playing: t < index.endT };
  }
  const { input, key } = action;
  const prompt = screen.prompt;
  if (prompt) {
    if (key.return) return confirmPrompt(index, { ...screen, prompt: null }, prompt);
    if (key.escape) return { ...screen, prompt: null };
    if (key.backspace || key.delete)
      return { ...screen, prompt: { ...prompt, text: prompt.text.slice(0, -1) } };
    if (input && !key.ctrl && !key.meta)
      return { ...screen, prompt: { ...prompt, text: prompt.text + input } };
    return screen;
  }
  const s: Screen = { ...screen, message: null };
  if (input === 'q') return { ...s, quit: true };
  if (input === ' ') {
    // At the end, play starts over from the beginning.
    if (!s.playing && s.t >= index.endT) return { ...moveTo(index, s, 0), playing: true };
    return { ...s, playing: !s.playing };
  }
  if (key.home || input === '0') return moveTo(index, { ...s, playing: false }, 0);
  if (key.end) return moveTo(index, { ...s, playing: false }, index.endT);
  if (key.rightArrow || key.leftArrow) {
    const paused = { ...s, playing: false };
    const forward = key.rightArrow;
    if (key.shift) {
      const jump = Math.max(1, Math.round(index.endT / 50));
      return moveTo(index, paused, s.t + (forward ? jump : -jump));
    }
    const next = forward ? index.nextTime(s.t) : index.previousTime(s.t);
    if (next === null)
      return { ...paused, message: forward ? 'at the end of the trace' : 'at the start of the trace' };
    return moveTo(index, paused, next);
  }
  if (input === '+' || input === '=') return { ...s, speed: Math.min(speeds.length - 1, s.speed + 1) };
  if (input === '-' || input === '_') return { ...s, speed: Math.max(0, s.speed - 1) };
  if (input === 'g' || input === '/') {
    return {
      ...s,
      playing: false,
      prompt: { kind: input === 'g' ? 'goto' : 'filter', text: input === '/' ? (s.filter?.text ?? '') : '' },
    };
  }
  if (input === 'n' || input === 'p') {
    const count = index.violations.length;
    if (count === 0) return { ...s, message: 'no violations in this trace' };
    let i: number;
    if (s.violation === null) {
      // From the current time: the first violation after it (n) or the last before it (p).
      i =
        input === 'n'
          ? index.violations.findIndex((v) => v.t > s.t)
          : index.violations.findLastIndex((v) => v.t < s.t);
      if (i < 0) i = input === 'n' ? 0 : count - 1;
    } else i = (s.violation + (input === 'n' ? 1 : count - 1)) % count;
    return jumpToViolation(index, { ...s, playing: false }, i);
  }
  if (input === 'f') {
    if (s.pane === 'follow') return { ...s, pane: 'events' };
    const { entries, selected } = selection(context.windowAt(s.t, s.filter), s.selectedLine);
    const entry = entries[selected];
    const e = entry && eventOfEntry(entry);
    if (!e) return { ...s, message: 'the selected record carries no event; select one with ↑/↓' };
    return { ...s, followed: { e, violation: null }, scroll: 0, pane: 'follow' };
  }
  if (input === 'v') return { ...s, pane: s.pane === 'violations' ? 'events' : 'violations' };
  if (input === '?') return { ...s, pane: s.pane === 'help' ? 'events' : 'help' };
  if (key.escape) return { ...s, pane: 'events' };
  if (key.upArrow || key.downArrow) {
    const by = key.upArrow ? -1 : 1;
    if (s.pane === 'follow') {
      const last = Math.max(0, context.followRows(s.followed).length - context.listRows);
      return { ...s, scroll: Math.max(0, Math.min(last, s.scroll + by)) };
    }
    const { entries, selected } = selection(context.windowAt(s.t, s.filter), s.selectedLine);
    const entry = entries[Math.max(0, Math.min(entries.length - 1, selected + by))];
    return entry ? { ...s, selectedLine: entry.line } : s;
  }
  return s;
}

/**
 * The records around a time as the events pane lists them, remembering the last answer: rendering
 * and the keys that read the selection ask for the same time in a row.
 */
function windowReader(
  index: TraceIndex,
  listRows: number,
  afterRows: number,
): (t: number, filter: Filter | null) => Window {
  let last: { t: number; filter: Filter | null; window: Window } | null = null;
  return (t, filter) => {
    if (last?.t === t && last.filter === filter) return last.window;
    const found = index.window(t, listRows - afterRows, listRows, filter);
    // Fill the pane: when little happened before `t`, show more of what comes next.
    const window = {
      ...found,
      after: found.after.slice(0, Math.max(afterRows, listRows - found.before.length)),
    };
    last = { t, filter, window };
    return window;
  };
}

/**
 * The followed path (and the violation's chain) as the follow pane's rows, remembering the last
 * answer. Wrapped, not cut: a drop's reason and fault come at the end of its line.
 */
function followReader(index: TraceIndex, paneWidth: number): (followed: Screen['followed']) => Row[] {
  let last: { followed: Screen['followed']; rows: Row[] } | null = null;
  return (followed) => {
    if (last?.followed === followed) return last.rows;
    const lines = followed ? followLines(index.follow(followed.e), followed.violation, index) : [];
    const rows = lines.flatMap((line) =>
      wrapText(line.text, paneWidth).map((text) => ({ text, bad: line.bad })),
    );
    last = { followed, rows };
    return rows;
  };
}

/**
 * The counters at the current time ("so far") above the same counters over the whole run (what the
 * run's report totals), each field aligned with its pair; shorter labels when the width asks.
 */
function countersLines(soFar: Counters, total: Counters, width: number): [string, string] {
  const n = (value: number): string => value.toLocaleString('en-US');
  const forms: ((c: Counters) => string[])[] = [
    (c) => [
      `published ${n(c.published)}`,
      `delivered ${n(c.delivered)}`,
      `lost ${n(c.lostExplained)} explained / ${n(c.lostUnexplained)} unexplained`,
      `duplicates ${n(c.duplicates)}`,
      `violations ${n(c.violations)}`,
    ],
    (c) => [
      `published ${n(c.published)}`,
      `delivered ${n(c.delivered)}`,
      `lost ${n(c.lostExplained)} expl / ${n(c.lostUnexplained)} unexpl`,
      `dup ${n(c.duplicates)}`,
      `viol ${n(c.violations)}`,
    ],
    (c) => [
      `pub ${n(c.published)}`,
      `deliv ${n(c.delivered)}`,
      `lost ${n(c.lostExplained + c.lostUnexplained)} (${n(c.lostUnexplained)} unexpl)`,
      `dup ${n(c.duplicates)}`,
      `viol ${n(c.violations)}`,
    ],
  ];
  let lines: [string, string] = ['', ''];
  for (const [i, form] of forms.entries()) {
    const heads = i === 0 ? ['so far (at ▲)', 'whole run'] : ['so far', 'whole run'];
    const [a, b] = [form(soFar), form(total)];
    const widths = a.map((field, j) => Math.max(field.length, b[j]!.length));
    const headWidth = Math.max(...heads.map((head) => head.length));
    const line = (head: string, fields: string[]): string =>
      `${head.padEnd(headWidth)}  ${fields.map((field, j) => field.padEnd(widths[j]!)).join('  ')}`.trimEnd();
    lines = [line(heads[0]!, a), line(heads[1]!, b)];
    if (lines[0].length <= width && lines[1].length <= width) break;
  }
  return lines;
}

export function App(props: AppProps): ReactElement {
  const { index } = props;
  const { exit } = useApp();
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 }));
  useEffect(() => {
    const onResize = (): void => setSize({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  const width = props.width ?? size.columns;
  // One row short of the terminal: ink redraws a frame as tall as the terminal by erasing the whole
  // terminal, scrollback included, which would take the run's report (and the shell's history) with it.
  const height = props.height ?? Math.max(1, size.rows - 1);

  // Rows: header, topology, faults, timeline (2), counters (2), pane, footer.
  const wide = width >= 140;
  const perRow = Math.max(1, Math.min(index.datacenters.length, Math.floor(width / 24)));
  const boxRows = Math.ceil(index.datacenters.length / perRow);
  const nodesPerDc = Math.max(
    0,
    ...index.datacenters.map((dc) => index.nodes.filter((n) => n.dc === dc).length),
  );
  const fullTopology = boxRows * (nodesPerDc + 3);
  const fixedRows = 7;
  const compact = height - fixedRows - fullTopology < 8;
  const topologyRows = compact ? index.datacenters.length : fullTopology;
  const paneRows = Math.max(3, height - fixedRows - topologyRows);
  const listRows = paneRows - 1;
  const afterRows = Math.min(3, Math.floor(listRows / 4));

  const windowAt = useMemo(() => windowReader(index, listRows, afterRows), [index, listRows, afterRows]);
  const followWidth = wide ? width - Math.floor(width / 2) : width;
  const followRows = useMemo(() => followReader(index, followWidth), [index, followWidth]);
  const [screen, dispatch] = useReducer(
    (current: Screen, action: Action): Screen => {
      try {
        return update({ index, windowAt, followRows, listRows }, current, action);
      } catch (error) {
        return { ...current, failure: current.failure ?? asError(error) };
      }
    },
    index,
    openingScreen,
  );
  const { t, playing, speed, filter, prompt, message, pane, violation, scroll } = screen;

  // A trace that cannot be read any more (changed on disk) ends the replay with its message: the
  // error is kept here during render and handed to ink's exit after it, never drawn as a stack.
  const failure = useRef<Error | null>(null);
  const guarded = <T,>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (error) {
      failure.current ??= asError(error);
      return fallback;
    }
  };
  useEffect(() => {
    const error = failure.current ?? screen.failure;
    if (error) exit(error);
    else if (screen.quit) exit();
  });

  const window = guarded(() => windowAt(t, filter), {
    view: { t, counters: zeroCounters(), nodes: [], faults: [] },
    before: [],
    after: [],
  });
  const { entries, selected } = selection(window, screen.selectedLine);
  const pathRows = guarded(() => followRows(screen.followed), []);

  useEffect(() => {
    if (!playing) return;
    const tickMs = props.tickMs ?? 100;
    const timer = setInterval(() => dispatch({ kind: 'tick', tickMs }), tickMs);
    return () => clearInterval(timer);
  }, [playing, props.tickMs]);

  useInput(
    useCallback((input: string, key: Key) => {
      // A fast typist or a terminal multiplexer can deliver several keys in one chunk ("50%\r"):
      // take them one at a time, so Enter confirms a prompt and "nn" moves two violations.
      if (input.length > 1 && !key.ctrl && !key.meta) {
        for (const char of input) {
          const one = {
            ...key,
            return: char === '\r' || char === '\n',
            backspace: char === '\u007F' || char === '\b',
          };
          dispatch({ kind: 'key', input: char, key: one });
        }
      } else dispatch({ kind: 'key', input, key });
    }, []),
  );

  const view = window.view;
  const scenario = index.run.scenario as { name?: unknown } | null;
  const name = typeof scenario?.name === 'string' ? scenario.name : 'trace';
  const header = `stadium replay  ${name} seed ${index.run.seed}  ${formatTime(t)} / ${formatTime(index.endT)}  ${
    playing ? '▶ playing' : '❚❚ paused'
  } ${speeds[speed]}x${index.end ? '' : '  (no end record: the run stopped early)'}${
    filter ? `  filter: ${filter.text}` : ''
  }`;
  const partitions = view.faults.filter((span) => span.fault.kind === 'partition');
  const others = view.faults.filter((span) => span.fault.kind !== 'partition');
  const faultsLine = `Partitions: ${
    partitions.length
      ? partitions.map((s) => `${describeFault(s.fault).replace('partition ', '')} (#${s.f})`).join(', ')
      : 'none'
  }${others.length ? `   Faults: ${others.map((s) => `${describeFault(s.fault)} (#${s.f})`).join(', ')}` : ''}`;
  const [soFarLine, totalLine] = countersLines(view.counters, index.totals, width);
  const [timeline, cursor] = timelineText(index, t, width);

  const eventsPane = (paneWidth: number): ReactElement => (
    <Box flexDirection="column" width={paneWidth} height={paneRows}>
      <Text bold wrap="truncate">
        Events{filter ? ` matching "${filter.text}"` : ''} (↑↓ select, f follow)
      </Text>
      {entries.length === 0 ? (
        <Text dimColor>no records{filter ? ' match the filter near here' : ''}</Text>
      ) : null}
      {entries.map((entry, i) => (
        <EventLine
          key={entry.line}
          entry={entry}
          index={index}
          selected={i === selected}
          future={i >= window.before.length}
        />
      ))}
    </Box>
  );

  const sidePane = (paneWidth: number): ReactElement => {
    if (pane === 'help') {
      return (
        <Box flexDirection="column" width={paneWidth} height={paneRows}>
          <Text bold>Keys</Text>
          {helpLines.slice(0, listRows).map((line) => (
            <Text key={line} wrap="truncate">
              {line}
            </Text>
          ))}
        </Box>
      );
    }
    if (pane === 'violations') {
      const current = violation ?? -1;
      const first = Math.max(
        0,
        Math.min(current - Math.floor(listRows / 2), index.violations.length - listRows),
      );
      return (
        <Box flexDirection="column" width={paneWidth} height={paneRows}>
          <Text bold wrap="truncate">
            Violations ({index.violations.length}) n/p jump
          </Text>
          {index.violations.length === 0 ? <Text>none</Text> : null}
          {index.violations.slice(first, first + listRows).map((entry, i) => (
            <Text key={entry.line} wrap="truncate" inverse={first + i === current} color="red">
              {`${first + i + 1}. ${formatTime(entry.t)} ${entry.violation.invariant} ${entry.violation.e ?? ''}: ${entry.violation.message}`}
            </Text>
          ))}
        </Box>
      );
    }
    const lines = pathRows;
    const first = Math.min(scroll, Math.max(0, lines.length - listRows));
    return (
      <Box flexDirection="column" width={paneWidth} height={paneRows}>
        <Text bold wrap="truncate">
          Follow {screen.followed?.e || '(no event)'} (↑↓ scroll, f/esc close)
          {lines.length > listRows
            ? ` ${first + 1}-${Math.min(lines.length, first + listRows)}/${lines.length}`
            : ''}
        </Text>
        {lines.slice(first, first + listRows).map((line, i) => (
          <Text key={i} wrap="truncate" {...red(line.bad)}>
            {line.text}
          </Text>
        ))}
      </Box>
    );
  };

  const footer = prompt ? (
    <Text wrap="truncate">
      {prompt.kind === 'goto'
        ? 'Go to (12.5s, 300ms, 50%, event id): '
        : 'Filter (node:, topic:, conn:, e:): '}
      {prompt.text}█ <Text dimColor>enter ok, esc cancel</Text>
    </Text>
  ) : message ? (
    <Text color="yellow" wrap="truncate">
      {message}
    </Text>
  ) : (
    <Text dimColor wrap="truncate">
      {width >= keysWide.length ? keysWide : keysNarrow}
    </Text>
  );

  // Help takes the whole screen between header and footer when there is no room beside the events.
  const helpScreen = pane === 'help' && !wide;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate">
        {header}
      </Text>
      {helpScreen ? (
        <Box flexDirection="column" height={height - 2}>
          <Text bold>Keys</Text>
          {helpLines.map((line) => (
            <Text key={line} wrap="truncate">
              {line}
            </Text>
          ))}
        </Box>
      ) : (
        <>
          <Topology index={index} view={view} width={width} compact={compact} />
          <Text wrap="truncate" {...red(partitions.length + others.length > 0)}>
            {faultsLine}
          </Text>
          <Text wrap="truncate">{timeline}</Text>
          <Text wrap="truncate">{cursor}</Text>
          <Text wrap="truncate">{soFarLine}</Text>
          <Text wrap="truncate">{totalLine}</Text>
          {pane === 'events' ? (
            eventsPane(width)
          ) : wide ? (
            <Box>
              {eventsPane(Math.floor(width / 2))}
              {sidePane(width - Math.floor(width / 2))}
            </Box>
          ) : (
            sidePane(width)
          )}
        </>
      )}
      {footer}
    </Box>
  );
}
