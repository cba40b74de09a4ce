/** How replay writes times, faults and records as text: shared by the terminal UI and the static summary. */
import { unreachable } from '../../core/index.ts';
import { describeFault, type TraceRecord } from '../../sim/index.ts';

/** Simulated microseconds as seconds with microsecond precision: `12.345678s`. */
export function formatTime(us: number): string {
  const sign = us < 0 ? '-' : '';
  const abs = Math.abs(Math.round(us));
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}s`;
}

/** How long after something another thing happened: `+850us`, `+12.5ms`, `+3.2s`. */
export function formatDelay(us: number): string {
  if (us < 1000) return `+${us}us`;
  if (us < 1_000_000) return `+${+(us / 1000).toFixed(3)}ms`;
  return `+${+(us / 1_000_000).toFixed(6)}s`;
}

/**
 * A time typed by a person: `12.5s`, `300ms`, `1200us`, a bare number of seconds, or a percentage
 * of the run (`50%`). Returns microseconds, or null when the text is none of these.
 */
export function parseTime(text: string, endUs: number): number | null {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(s|ms|us|µs|%)?\s*$/.exec(text);
  if (!match) return null;
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  if (unit === '%') return Math.round((endUs * Math.min(value, 100)) / 100);
  const usPerUnit = unit === 'ms' ? 1000 : unit === 's' ? 1_000_000 : 1;
  return Math.round(value * usPerUnit);
}

/** The send a `recv` or `drop` names, when the reader has seen it. */
export interface SendInfo {
  from: string;
  to: string;
  type: string;
  e?: string;
}

/** One record as one line of the event pane (without its time). */
export function describeRecord(
  record: TraceRecord,
  send: SendInfo | undefined,
  faultName: (f: number) => string,
): string {
  const hop = (m: number): string =>
    send ? `#${m} ${send.from} -> ${send.to} ${send.type}${send.e ? ` ${send.e}` : ''}` : `#${m}`;
  switch (record.k) {
    case 'run':
      return `run ${record.nodes.length} nodes, seed ${record.seed}`;
    case 'end':
      return 'end of run';
    case 'fault':
      return `FAULT #${record.f} ${record.phase === 'start' ? 'starts' : 'ends'}: ${describeFault(record.fault, { durations: false })}`;
    case 'publish':
      return `publish ${record.e} ${record.topic} at ${record.node} (${record.bytes} B)`;
    case 'send':
      return `send #${record.m} ${record.from} -> ${record.to} ${record.type}${record.e ? ` ${record.e}` : ''}`;
    case 'recv':
      return `recv ${hop(record.m)}`;
    case 'drop':
      return `DROP ${hop(record.m)}: ${record.why}${record.f !== undefined ? ` (${faultName(record.f)})` : ''}`;
    case 'role-drop':
      return `${record.node} gave up: ${record.why}${record.e ? ` ${record.e}` : ''}${record.topic ? ` ${record.topic}` : ''}`;
    case 'deliver':
      return `deliver ${record.e}${at(record)} to ${record.n} conn at ${record.node}`;
    case 'fanout':
      return `fanout ${record.e}${at(record)} to ${record.n} conn at ${record.node}`;
    case 'due':
      return `due ${record.e}`;
    case 'client-drop':
      return `CLIENT-DROP ${record.e} ${record.n} conn at ${record.node}: ${record.why}`;
    case 'conn':
      return `conn ${record.c} ${record.op}${record.topic ? ` ${record.topic}` : ''}${record.seq === undefined ? '' : ` after${at(record)}`} at ${record.node}`;
    case 'append':
      return `${record.dc}/store ${record.dup === true ? 'already held' : 'appended'} ${record.e} ${record.topic} at seq ${record.ep}.${record.seq}`;
    case 'trim':
      return `${record.dc}/store forgot ${record.topic} through seq ${record.ep}.${record.seq}`;
    case 'gap':
      return `GAP ${record.topic} seq ${record.ep}.${record.from}..${record.to ?? 'end'} (${record.why}${record.e === undefined ? '' : ` ${record.e}`}) to ${record.n} conn at ${record.node}`;
    case 'answer':
      return `${record.dc}/publisher answered ${record.ok ? `OK ${record.e}${record.w === undefined ? '' : ` (warning ${record.w})`}` : `REFUSED ${record.code}${record.e === undefined ? '' : ` ${record.e}`}`}`;
    case 'lease':
      return `lease ${record.change} ${record.topic} for ${record.fe} in ${record.dc}`;
    case 'node':
      return `NODE ${record.node} ${record.op === 'down' ? 'DOWN' : 'up'}`;
    case 'loss':
      return `LOSS ${record.e} ${record.n} at ${record.node ?? '?'}: ${record.cause} (${record.explained ? 'explained' : 'UNEXPLAINED'}${record.f !== undefined ? `, ${faultName(record.f)}` : ''})`;
    case 'violation':
      return `VIOLATION ${record.violation.invariant}: ${record.violation.message}`;
    default:
      return unreachable(record);
  }
}

/** ` epoch.seq` of a record that has a position (reliable mode), or nothing. */
function at(record: { ep?: number; seq?: number }): string {
  return record.seq === undefined ? '' : ` ${record.ep ?? '?'}.${record.seq}`;
}

/**
 * One line as rows of at most `width` characters, broken at spaces where it can (a word longer
 * than a row is cut). Rows after the first are indented as far as the line's leading spaces and
 * time (`  12.345678s `) reach, so a wrapped step still reads as one step.
 */
export function wrapText(text: string, width: number): string[] {
  if (text.length <= width || width < 2) return [text];
  const lead = /^ *(?:\d+\.\d{6}s )?/.exec(text)![0].length;
  const indent = ' '.repeat(lead <= width / 2 ? lead : 0);
  const rows: string[] = [];
  let rest = text;
  let kept = lead;
  while (rest.length > width) {
    let cut = rest.lastIndexOf(' ', width);
    if (cut <= kept) cut = width;
    rows.push(rest.slice(0, cut).trimEnd());
    rest = indent + rest.slice(cut).trimStart();
    kept = indent.length;
  }
  rows.push(rest);
  return rows;
}
