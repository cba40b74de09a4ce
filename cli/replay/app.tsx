/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * The replay screen. From top to bottom: a header (scenario, seed, time, play state), one box per
 * datacenter with each node's state at the current time, the faults in force (partitions first),
 * a timeline with fault and violation markers, the counters, a pane (events around the current
 * time, or one followed event's path, or the violations, or help), and a footer with the keys.
 *
 * The current time `t` is the only position: the world shown is the one after every record at or
 * before `t`. Stepping moves to the previous or next time at which something happened. Everything
 * shown is read from the trace index for that time, so scrubbing never holds the trace in memory.
 */
import { Box, type Key, Text, useApp, useInput, useStdout } from 'ink';
import { type ReactElement, useEffect, useMemo, useRef, useState } from 'react';
import { type Filter, parseFilter } from './filter.ts';
import { describeFault, describeRecord, formatTime, parseTime } from './format.ts';
import { type TraceRecord, eventOf } from './records.ts';
import type { Entry, Followed, TraceIndex, View } from './trace-index.ts';
import { type NodeView, zeroCounters } from './replay-state.ts';

/** Playback speeds, as simulated time per real time. */
export const speeds = [0.001, 0.01, 0.1, 0.25, 0.5, 1, 2, 5, 10] as const;
const defaultSpeed = 2;

export interface AppProps {
  index: TraceIndex;
  /** Fixed size (tests); otherwise the terminal's, following resizes. */
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

function followLines(
  followed: Followed,
  violationIndex: number | null,
  index: TraceIndex,
): { text: string; bad: boolean }[] {
  const lines: { text: string; bad: boolean }[] = [];
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
  const height = props.height ?? size.rows;

  // Keys can arrive faster than React commits, so handlers read the time and the prompt from refs.
  const [t, setT] = useState(0);
  const timeRef = useRef(0);
  const setTime = (next: number): void => {
    timeRef.current = next;
    setT(next);
  };
  const [playing, setPlayingState] = useState(false);
  // The playback timer checks this ref, so a pause takes effect before React re-renders.
  const playingRef = useRef(false);
  const setPlaying = (next: boolean): void => {
    playingRef.current = next;
    setPlayingState(next);
  };
  const [speed, setSpeed] = useState(defaultSpeed);
  const [filter, setFilter] = useState<Filter | null>(null);
  const [prompt, setPromptState] = useState<Prompt>(null);
  const promptRef = useRef<Prompt>(null);
  const setPrompt = (next: Prompt): void => {
    promptRef.current = next;
    setPromptState(next);
  };
  const [message, setMessage] = useState<string | null>(null);
  const [pane, setPane] = useState<Pane>('events');
  const [followed, setFollowed] = useState<{ e: string; violation: number | null } | null>(null);
  // The violation n/p last jumped to; any other move forgets it, so n/p then search from the time shown.
  const [violation, setViolationState] = useState<number | null>(null);
  const violationRef = useRef<number | null>(null);
  const setViolation = (next: number | null): void => {
    violationRef.current = next;
    setViolationState(next);
  };
  const [selectedLine, setSelectedLine] = useState<number | null>(null);
  const [scroll, setScroll] = useState(0);

  // Rows: header, topology, faults, timeline (2), counters, pane, footer.
  const wide = width >= 140;
  const perRow = Math.max(1, Math.min(index.datacenters.length, Math.floor(width / 24)));
  const boxRows = Math.ceil(index.datacenters.length / perRow);
  const nodesPerDc = Math.max(
    0,
    ...index.datacenters.map((dc) => index.nodes.filter((n) => n.dc === dc).length),
  );
  const fullTopology = boxRows * (nodesPerDc + 3);
  const compact = height - 6 - fullTopology < 8;
  const topologyRows = compact ? index.datacenters.length : fullTopology;
  const paneRows = Math.max(3, height - 6 - topologyRows);
  const listRows = paneRows - 1;
  const afterRows = Math.min(3, Math.floor(listRows / 4));

  // A trace that cannot be read any more (changed on disk) ends the replay with its message: the
  // error is kept here during render and handed to ink's exit after it, never drawn as a stack.
  const failure = useRef<Error | null>(null);
  const guarded = <T,>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (error) {
      failure.current ??= error instanceof Error ? error : new Error(String(error));
      return fallback;
    }
  };
  useEffect(() => {
    if (failure.current) exit(failure.current);
  });

  const window = useMemo(
    () =>
      guarded(
        () => {
          const found = index.window(t, listRows - afterRows, listRows, filter);
          // Fill the pane: when little happened before `t`, show more of what comes next.
          return {
            ...found,
            after: found.after.slice(0, Math.max(afterRows, listRows - found.before.length)),
          };
        },
        { view: { t, counters: zeroCounters(), nodes: [], faults: [] }, before: [], after: [] },
      ),
    [index, t, filter, listRows, afterRows],
  );
  const entries = useMemo(() => [...window.before, ...window.after], [window]);
  const selected = useMemo(() => {
    const found = selectedLine === null ? -1 : entries.findIndex((entry) => entry.line === selectedLine);
    return found >= 0 ? found : window.before.length - 1;
  }, [entries, selectedLine, window]);
  const followedPath = useMemo(
    () => (followed ? guarded(() => index.follow(followed.e), null) : null),
    [index, followed],
  );

  useEffect(() => {
    if (!playing) return;
    const tickMs = props.tickMs ?? 100;
    const timer = setInterval(() => {
      if (!playingRef.current || timeRef.current >= index.endT) return;
      const next = Math.min(
        index.endT,
        timeRef.current + Math.max(1, Math.round(speeds[speed]! * tickMs * 1000)),
      );
      if (next >= index.endT) setPlaying(false);
      setTime(next);
    }, tickMs);
    return () => clearInterval(timer);
  }, [playing, speed, index, props.tickMs]);

  const moveTo = (next: number): void => {
    setTime(Math.max(0, Math.min(index.endT, next)));
    setSelectedLine(null);
    setViolation(null);
  };

  const jumpToViolation = (i: number): void => {
    const entry = index.violations[i]!;
    moveTo(entry.t);
    setViolation(i);
    setSelectedLine(entry.line);
    setScroll(0);
    const e = entry.violation.e;
    setFollowed({ e: e ?? '', violation: i });
    setPane('follow');
    setMessage(null);
  };

  const confirmPrompt = (current: NonNullable<Prompt>): void => {
    setPrompt(null);
    if (current.kind === 'filter') {
      try {
        setFilter(parseFilter(current.text));
        setSelectedLine(null);
        setPane('events');
        setMessage(null);
      } catch (error) {
        setMessage((error as Error).message);
      }
      return;
    }
    const text = current.text.trim();
    const published = index.publishTime(text);
    if (published !== null) {
      moveTo(published);
      setFollowed({ e: text, violation: null });
      setPane('follow');
      setScroll(0);
      setMessage(null);
      return;
    }
    const time = parseTime(text, index.endT);
    if (time === null) setMessage(`not a time or an event id: "${text}" (try 12.5s, 300ms, 1200us, 50%)`);
    else {
      moveTo(time);
      setMessage(null);
    }
  };

  // Ink may deliver a key to the handler of the previous render, so it reads what it needs from here.
  const latest = useRef({ entries, selected, pane, filter });
  latest.current = { entries, selected, pane, filter };

  const onKey = (input: string, key: Key): void => {
    const prompt = promptRef.current;
    const t = timeRef.current;
    const { entries, selected, pane, filter } = latest.current;
    const violation = violationRef.current;
    if (prompt) {
      if (key.return) confirmPrompt(prompt);
      else if (key.escape) setPrompt(null);
      else if (key.backspace || key.delete) setPrompt({ ...prompt, text: prompt.text.slice(0, -1) });
      else if (input && !key.ctrl && !key.meta) setPrompt({ ...prompt, text: prompt.text + input });
      return;
    }
    setMessage(null);
    if (input === 'q') {
      exit();
      return;
    }
    if (input === ' ') {
      // At the end, play starts over from the beginning.
      if (!playingRef.current && t >= index.endT) moveTo(0);
      setPlaying(!playingRef.current);
      return;
    }
    if (key.rightArrow || key.leftArrow) {
      setPlaying(false);
      const forward = key.rightArrow;
      if (key.shift) {
        const jump = Math.max(1, Math.round(index.endT / 50));
        moveTo(t + (forward ? jump : -jump));
      } else {
        const next = forward ? index.nextTime(t) : index.previousTime(t);
        if (next === null) setMessage(forward ? 'at the end of the trace' : 'at the start of the trace');
        else moveTo(next);
      }
      return;
    }
    if (input === '+' || input === '=') {
      setSpeed((s) => Math.min(speeds.length - 1, s + 1));
      return;
    }
    if (input === '-' || input === '_') {
      setSpeed((s) => Math.max(0, s - 1));
      return;
    }
    if (input === 'g' || input === '/') {
      setPlaying(false);
      setPrompt({ kind: input === 'g' ? 'goto' : 'filter', text: input === '/' ? (filter?.text ?? '') : '' });
      return;
    }
    if (input === 'n' || input === 'p') {
      if (index.violations.length === 0) {
        setMessage('no violations in this trace');
        return;
      }
      setPlaying(false);
      const count = index.violations.length;
      let i: number;
      if (violation === null) {
        // From the current time: the first violation after it (n) or the last before it (p).
        i =
          input === 'n'
            ? index.violations.findIndex((v) => v.t > t)
            : index.violations.findLastIndex((v) => v.t < t);
        if (i < 0) i = input === 'n' ? 0 : count - 1;
      } else i = (violation + (input === 'n' ? 1 : count - 1)) % count;
      jumpToViolation(i);
      return;
    }
    if (input === 'f') {
      if (pane === 'follow') {
        setPane('events');
        return;
      }
      const entry = entries[selected];
      const e = entry && eventOfEntry(entry);
      if (!e) {
        setMessage('the selected record carries no event; select one with ↑/↓');
        return;
      }
      setFollowed({ e, violation: null });
      setScroll(0);
      setPane('follow');
      return;
    }
    if (input === 'v') {
      setPane((p) => (p === 'violations' ? 'events' : 'violations'));
      return;
    }
    if (input === '?') {
      setPane((p) => (p === 'help' ? 'events' : 'help'));
      return;
    }
    if (key.escape) {
      setPane('events');
      return;
    }
    if (key.upArrow || key.downArrow) {
      if (pane === 'follow') {
        setScroll((s) => Math.max(0, s + (key.upArrow ? -1 : 1)));
      } else {
        const next = Math.max(0, Math.min(entries.length - 1, selected + (key.upArrow ? -1 : 1)));
        const entry = entries[next];
        if (entry) setSelectedLine(entry.line);
      }
    }
  };

  useInput((input, key) => {
    try {
      // A fast typist or a terminal multiplexer can deliver several keys in one chunk ("50%\r"):
      // take them one at a time, so Enter confirms a prompt and "nn" moves two violations.
      if (input.length > 1 && !key.ctrl && !key.meta) {
        for (const char of input) {
          onKey(char, {
            ...key,
            return: char === '\r' || char === '\n',
            backspace: char === '\u007F' || char === '\b',
          });
        }
      } else onKey(input, key);
    } catch (error) {
      exit(error instanceof Error ? error : new Error(String(error)));
    }
  });

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
  const c = view.counters;
  const countersLong = `published ${c.published}  delivered ${c.delivered}  lost ${c.lostExplained} explained / ${c.lostUnexplained} unexplained  duplicates ${c.duplicates}  violations ${c.violations}/${index.violations.length}`;
  const countersLine =
    countersLong.length <= width
      ? countersLong
      : `published ${c.published} delivered ${c.delivered} lost ${c.lostExplained} expl/${c.lostUnexplained} unexpl dup ${c.duplicates} viol ${c.violations}/${index.violations.length}`;
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
    const lines = followedPath && followed ? followLines(followedPath, followed.violation, index) : [];
    const first = Math.min(scroll, Math.max(0, lines.length - listRows));
    return (
      <Box flexDirection="column" width={paneWidth} height={paneRows}>
        <Text bold wrap="truncate">
          Follow {followed?.e || '(no event)'} (↑↓ scroll, f/esc close)
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
          <Text wrap="truncate">{countersLine}</Text>
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
