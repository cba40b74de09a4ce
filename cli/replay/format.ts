/** How replay writes times, faults and records as text: shared by the terminal UI and the static summary. */
import { unreachable, type Gap } from '../../core/index.ts';
import { describeFault, type TraceRecord } from '../../sim/index.ts';

type SendRecord = Extract<TraceRecord, { k: 'send' }>;

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

/** How long something waited: `300 ms`, `2.5 s`, `850 us` (tenths of a millisecond at most). */
export function formatSpan(us: number): string {
  if (us < 1000) return `${us} us`;
  if (us < 10_000_000) return `${+(us / 1000).toFixed(1)} ms`;
  return `${+(us / 1_000_000).toFixed(2)} s`;
}

/**
 * A message as the records pane names it: its ends, type and event, and what else it says (a
 * deliver's position, what a history read asks or its answer holds). For a `send`, the record's
 * own; for a `recv` or `drop`, the send they answer, when the reader has seen it. A forward-ack
 * names no event: the reader names its forward's.
 */
export interface SendInfo {
  from: string;
  to: string;
  type: string;
  e?: string;
  detail?: string;
}

/** A send as its SendInfo (`e` given: the event its acknowledged forward carried). */
export function sendInfo(record: SendRecord, e: string | undefined = record.e): SendInfo {
  const info: SendInfo = { from: record.from, to: record.to, type: record.type };
  if (e !== undefined) info.e = e;
  const detail = messageDetail(record);
  if (detail !== '') info.detail = detail;
  return info;
}

/** `seq 17 @ epoch 1`: where a delivery stands in its datacenter's history (reliable mode). */
export function positionText(ep: number | undefined, seq: number): string {
  return `seq ${seq} @ epoch ${ep ?? '?'}`;
}

/** `seqs 5-9`, `seq 5`, `seqs 5 on` (to the end of the epoch). */
export function seqsText(from: number, to: number | null): string {
  if (to === null) return `seqs ${from} on`;
  return from === to ? `seq ${from}` : `seqs ${from}-${to}`;
}

/** Why viewers were told a gap, as the words after its seqs: `trimmed`, `lost with their epoch`. */
export function gapWhyText(why: Gap['why'], e: string | undefined): string {
  switch (why) {
    case 'trimmed':
      return 'trimmed';
    case 'epoch':
      return 'lost with their epoch';
    case 'unknown-cursor':
      return "behind a cursor this datacenter's history cannot place";
    case 'duplicate':
      return `repeats ${e ?? 'an event'} (appended again)`;
    default:
      return unreachable(why);
  }
}

/** A gap notice: `gap: seqs 5-9 of epoch 1 trimmed, told to 3 viewers of dc-a/frontend-2 (live)`. */
export function gapText(record: Extract<TraceRecord, { k: 'gap' }>): string {
  const viewers = `${record.n} viewer${record.n === 1 ? '' : 's'}`;
  return `gap: ${seqsText(record.from, record.to)} of epoch ${record.ep} ${gapWhyText(record.why, record.e)}, told to ${viewers} of ${record.node} (${record.topic})`;
}

/** What a history read asks for (`after seq 4`) or what its answer holds (`seqs 5-9 of epoch 2 …`). */
export function historyText(record: SendRecord): string {
  const h = record.h;
  if (h === undefined) return '';
  if ('seq' in h) return `after seq ${h.seq}`;
  if ('eventId' in h) return `after event ${h.eventId}`;
  if (!h.ok) return `failed: ${h.message}`;
  const got =
    h.fromSeq === undefined || h.toSeq === undefined
      ? `nothing new of epoch ${h.epoch}`
      : `${seqsText(h.fromSeq, h.toSeq)} of epoch ${h.epoch}`;
  const after = h.afterSeq === null ? 'an event it no longer holds' : `seq ${h.afterSeq}`;
  const lost =
    h.afterSeq !== null && h.firstSeq > h.afterSeq + 1
      ? `, ${seqsText(h.afterSeq + 1, h.firstSeq - 1)} no longer held`
      : '';
  return `${got} (after ${after}, oldest held ${h.firstSeq}, head ${h.headSeq}${lost})`;
}

/** What a message says besides its ends, type and event: a deliver's position, a history read's start or answer. */
export function messageDetail(record: SendRecord): string {
  switch (record.type) {
    case 'deliver':
      return record.seq === undefined ? '' : positionText(record.ep, record.seq);
    case 'history-read':
      return `${record.topic ?? '?'} ${historyText(record)}`;
    case 'history-reply':
      return `${record.topic ?? '?'}: ${historyText(record)}`;
    case 'publish':
    case 'publish-reply':
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
    case 'lease-reply':
    case 'store-reset':
    case 'deliver-ack':
    case 'forward':
    case 'forward-ack':
    case 'store-request':
    case 'store-reply':
    case 'occupancy':
      return '';
    default:
      return unreachable(record.type);
  }
}

/** A publisher's answer: `publish ev-1 answered OK with forward-pending`, `a publish refused: overloaded`. */
export function answerText(record: Extract<TraceRecord, { k: 'answer' }>): string {
  if (record.ok) return `publish ${record.e} answered OK${record.w === undefined ? '' : ` with ${record.w}`}`;
  return `${record.e === undefined ? 'a publish' : `publish ${record.e}`} refused: ${record.code}`;
}

/** One record as one line of the event pane (without its time). */
export function describeRecord(
  record: TraceRecord,
  send: SendInfo | undefined,
  faultName: (f: number) => string,
): string {
  const hop = (m: number): string => (send ? `#${m} ${hopText(send)}` : `#${m}`);
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
      return `send #${record.m} ${hopText(send ?? sendInfo(record))}`;
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
      return `${record.dc} ${record.dup === true ? 'already held' : 'stored'} ${record.e} (${record.topic}) as seq ${record.seq} of epoch ${record.ep}${record.dup === true ? ' (dup)' : ''}`;
    case 'trim':
      return `${record.dc} forgot ${record.topic} through seq ${record.seq} of epoch ${record.ep}`;
    case 'gap':
      return gapText(record);
    case 'occupancy':
      return occupancyText(record);
    case 'answer':
      return `${record.dc}/publisher: ${answerText(record)}`;
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

/**
 * What a frontend told its watchers: `dc-a/frontend-1 told 3 watchers: 1,204 watching live (dc-a 400 ·
 * dc-b 804 stale)`.
 */
export function occupancyText(record: Extract<TraceRecord, { k: 'occupancy' }>): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const stale = new Set(record.stale ?? []);
  const shares = Object.entries(record.byDc)
    .map(([dc, count]) => `${dc} ${n(count)}${stale.has(dc) ? ' stale' : ''}`)
    .join(' · ');
  const watchers = `${record.n} watcher${record.n === 1 ? '' : 's'}`;
  return `${record.node} told ${watchers}: ${n(record.count)} watching ${record.topic}${shares === '' ? '' : ` (${shares})`}`;
}

/** ` seq 17 @ epoch 1` of a record that has a position (reliable mode), or nothing. */
function at(record: { ep?: number; seq?: number }): string {
  return record.seq === undefined ? '' : ` ${positionText(record.ep, record.seq)}`;
}

/** `from -> to type[ e][ detail]`. */
function hopText(send: SendInfo): string {
  return `${send.from} -> ${send.to} ${send.type}${send.e ? ` ${send.e}` : ''}${send.detail ? ` ${send.detail}` : ''}`;
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
