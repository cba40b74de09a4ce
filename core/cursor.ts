/**
 * Cursor text: every cursor of one connection (`TopicCursor[]`) as one line of printable ASCII, so
 * that one SSE connection resumes all its topics from the browser's own `Last-Event-ID` (the
 * frontend writes the text as each event's `id:`), and a WebSocket client sends the same string.
 *
 * Format, version 1 (ABNF, RFC 5234; SP is one space):
 *
 *   cursor-text = "c1" 1*( SP group 1*( SP entry ) ) SP "$"   ; "$": the end, so a cut is seen
 *   group       = "@" dc "," epoch                  ; the dc and epoch of the entries after it
 *   entry       = topic-part "," seq [ id-part ]     ; one topic's cursor; no id-part: no lastEventId
 *   topic-part  = [ "^" shared ] *topic-char         ; "^": the previous entry's topic's first
 *                                                    ;   `shared` characters, then these
 *   id-part     = "," event-id                       ; the last event id, as it is
 *               / "+" shared *id-char                ; the first `shared` characters of the event
 *                                                    ;   id written last before it, then these
 *   epoch, seq  = "0" / ( %x31-39 / %x61-7A ) *digit36  ; base 36 without a leading zero, a safe
 *                                                    ;   integer; epoch >= 1
 *   shared      = 2digit36                           ; base 36, fixed width, at least 1
 *   digit36     = DIGIT / %x61-7A                    ; 0-9 a-z
 *   dc          ; dcError (validation.ts): 1-64 of  A-Z a-z 0-9 _ . -
 *   topic       ; topicError: 1-128 of  A-Z a-z 0-9 _ . : - /   (topic-char)
 *   event-id    ; eventIdError: 1-128 of %x21-7E, anything printable but the space (id-char)
 *
 * No escaping, ever: the space is the one printable character that no dc, topic or event id may
 * hold, and `@ , ^ + $` are never in a dc or a topic; an event id may hold any of them, but it is
 * the last field of its entry and runs to the next space. The text never holds LF, CR or NUL (an
 * SSE id cannot) and survives an HTTP header as it is. Because it always holds a space and an event
 * id never does, a frontend tells a cursor text from a plain event id without guessing
 * (`isCursorText`).
 *
 * Canonical: the encoder sorts the cursors by dc, epoch and topic and writes a shared prefix only
 * where it saves characters (4 or more shared), so the text depends only on the set of cursors, and
 * the decoder gives them back in that order. Topics are unique; the order of the input carries
 * nothing, since a connection has one cursor per topic.
 *
 * Bounds, and why
 * - `cursorTopicsMax` (64, the frontend's default `topicsPerConnectionMax`): the encoder asserts it
 *   (the frontend enforces its own limit before it ever writes a cursor), the decoder refuses more.
 * - `cursorTextMaxChars` (22,276) is derived, not chosen: the longest text `cursorTopicsMax` cursors
 *   can make, every field at its longest and each in a group of its own. So every valid set of
 *   cursors has a text, encode never truncates, and the decoder refuses anything longer before it
 *   looks further, which bounds its work.
 * - An HTTP request head is bounded by the server, and the text travels in one: uWebSockets.js 20
 *   (uws-pack 20.0.8, default `UWS_HTTP_MAX_HEADERS_SIZE`) answers 431 once the whole head, request
 *   line included, passes about 4 KB (measured: a 4,050-character Last-Event-ID passed, 4,080 did
 *   not); Node's http allows 16 KB. The realistic 1 and 8 topics below fit with room; 64 of them
 *   (1,850) beside their stream URL (about 1,900) and a browser's usual headers come near or past
 *   it, and the worst case is far past it. Such connections need the server's limit raised.
 * - The text ends with " $", which no other part of it can be, so a text cut short anywhere is
 *   refused rather than read as fewer cursors or a shorter seq or id. SSE ids, header values and
 *   WebSocket messages arrive whole, but a cursor may also pass through an application's own
 *   storage or URLs; 2 characters buy the certainty. There is no checksum: nothing else alters it.
 *
 * Sizes in characters, asserted by cursor.test.ts: one dc `dc-a`, a clock-like epoch
 * (1,763,000,000,000), topics `live/video-1234/topic-N`, seqs near 1,500, and last event ids from
 * two dispatchers in turn (`~dc-a.7001.3f9a0c1e-1234567`, `~dc-a.7002.b81d77a2-987665`):
 *   1 topic 75, 8 topics 281, 64 topics 1,850 (3,625 if nothing were shared; worst case 22,276).
 */
import { assert } from './assert.ts';
import type { TopicCursor } from './types.ts';
import {
  dcCharsMax,
  dcError,
  eventIdBytesMax,
  eventIdError,
  topicBytesMax,
  topicError,
} from './validation.ts';

/** At most this many cursors in one text: the frontend's default `topicsPerConnectionMax`. */
export const cursorTopicsMax = 64;

const version = 'c1';
const end = ' $';
/** Base-36 digits of `Number.MAX_SAFE_INTEGER`: the longest epoch or seq. */
const numberCharsMax = Number.MAX_SAFE_INTEGER.toString(36).length;
const groupCharsMax = ' @'.length + dcCharsMax + ','.length + numberCharsMax;
const entryCharsMax = ' '.length + topicBytesMax + ','.length + numberCharsMax + ','.length + eventIdBytesMax;

/** The longest text `cursorTopicsMax` cursors can make (see the header); the decoder refuses longer. */
export const cursorTextMaxChars =
  version.length + cursorTopicsMax * (groupCharsMax + entryCharsMax) + end.length;

/** A shared prefix is written as a marker and 2 base-36 digits; sharing fewer than 4 saves nothing. */
const sharedCharsMin = 4;
const sharedWidth = 2;
const sharedMax = 36 ** sharedWidth - 1;

export type CursorDecoding = { ok: true; cursors: TopicCursor[] } | { ok: false; error: string };

/** Whether `text` is meant as a cursor text (of any version) rather than one event id: ids hold no space. */
export function isCursorText(text: string): boolean {
  return /^c[0-9]+ /.test(text);
}

/** The cursor text of `cursors`: 1 to `cursorTopicsMax` valid cursors with distinct topics. */
export function encodeCursors(cursors: readonly TopicCursor[]): string {
  assert(
    cursors.length >= 1 && cursors.length <= cursorTopicsMax,
    `a cursor text holds 1 to ${cursorTopicsMax} cursors, not ${cursors.length}`,
  );
  const topics = new Set<string>();
  for (const cursor of cursors) {
    const error = cursorError(cursor);
    assert(error === null, `encodeCursors: ${error}`);
    assert(!topics.has(cursor.topic), `encodeCursors: topic "${cursor.topic}" has two cursors`);
    topics.add(cursor.topic);
  }
  const parts = [version];
  let group: TopicCursor | null = null;
  let previousTopic = '';
  let previousId = '';
  for (const cursor of [...cursors].sort(compareCursors)) {
    if (group === null || cursor.dc !== group.dc || cursor.epoch !== group.epoch) {
      parts.push(`@${cursor.dc},${cursor.epoch.toString(36)}`);
      group = cursor;
    }
    let entry = withSharedPrefix('^', '', previousTopic, cursor.topic) + ',' + cursor.seq.toString(36);
    if (cursor.lastEventId !== undefined) {
      entry += withSharedPrefix('+', ',', previousId, cursor.lastEventId);
      previousId = cursor.lastEventId;
    }
    parts.push(entry);
    previousTopic = cursor.topic;
  }
  const text = parts.join(' ') + end;
  assert(text.length <= cursorTextMaxChars, `a cursor text of ${text.length} characters passed the bound`);
  return text;
}

/** Read a cursor text. Never throws: a text that breaks the format is answered with what is wrong. */
export function decodeCursors(text: string): CursorDecoding {
  if (typeof text !== 'string') return refuse('a cursor text must be a string');
  if (text.length > cursorTextMaxChars)
    return refuse(`the text is ${text.length} characters, over cursorTextMaxChars (${cursorTextMaxChars})`);
  const items = text.split(' ');
  const head = items[0] ?? '';
  if (head !== version)
    return refuse(
      /^c[0-9]+$/.test(head) && items.length > 1
        ? `cursor format ${head} is not known (this one reads ${version})`
        : `not a cursor text: it must begin with "${version} "`,
    );
  if (items.length === 1 || items.at(-1) !== '$')
    return refuse(`the text is cut short: it does not end with "${end}"`);
  if (items.length === 2) return refuse('the text names no cursors');
  const cursors: TopicCursor[] = [];
  const topics = new Set<string>();
  let group: { dc: string; epoch: number; number: number; entries: number } | null = null;
  let previousTopic = '';
  let previousId = '';
  for (const item of items.slice(1, -1)) {
    const where = `cursor ${cursors.length + 1}`;
    if (item === '') return refuse(`${where}: empty (two spaces in a row)`);
    if (item === '$') return refuse(`${where}: "$" ends a text, yet more follows`);
    if (item.startsWith('@')) {
      const number: number = (group?.number ?? 0) + 1;
      if (group !== null && group.entries === 0) return refuse(`group ${group.number}: names no cursors`);
      const comma = item.indexOf(',');
      if (comma < 0) return refuse(`group ${number}: no epoch (a group is @dc,epoch)`);
      const dc = item.slice(1, comma);
      const dcProblem = dcError(dc);
      if (dcProblem !== null) return refuse(`group ${number}: ${dcProblem}`);
      const epoch = wholeNumber(item.slice(comma + 1));
      if (typeof epoch === 'string') return refuse(`group ${number}: epoch ${epoch}`);
      if (epoch < 1) return refuse(`group ${number}: epoch must be at least 1`);
      group = { dc, epoch, number, entries: 0 };
      continue;
    }
    if (group === null) return refuse(`${where}: comes before any @dc,epoch group`);
    if (cursors.length === cursorTopicsMax)
      return refuse(`more than cursorTopicsMax (${cursorTopicsMax}) cursors`);
    const entry = readEntry(item, previousTopic, previousId);
    if (typeof entry === 'string') return refuse(`${where}: ${entry}`);
    if (topics.has(entry.topic)) return refuse(`${where}: topic "${entry.topic}" has a cursor already`);
    topics.add(entry.topic);
    const cursor: TopicCursor = { topic: entry.topic, dc: group.dc, epoch: group.epoch, seq: entry.seq };
    if (entry.lastEventId !== undefined) {
      cursor.lastEventId = entry.lastEventId;
      previousId = entry.lastEventId;
    }
    cursors.push(cursor);
    previousTopic = entry.topic;
    group.entries++;
  }
  if (group !== null && group.entries === 0) return refuse(`group ${group.number}: names no cursors`);
  assert(cursors.length >= 1 && cursors.length <= cursorTopicsMax, 'a decoded text holds 1 to max cursors');
  return { ok: true, cursors };
}

/** What is wrong with one cursor, or null. */
export function cursorError(cursor: TopicCursor): string | null {
  const problem =
    topicError(cursor.topic) ??
    dcError(cursor.dc) ??
    (cursor.lastEventId === undefined ? null : eventIdError(cursor.lastEventId));
  if (problem !== null) return problem;
  if (!Number.isSafeInteger(cursor.epoch) || cursor.epoch < 1) return 'epoch must be a positive whole number';
  if (!Number.isSafeInteger(cursor.seq) || cursor.seq < 0) return 'seq must be a whole number, 0 or more';
  return null;
}

function compareCursors(a: TopicCursor, b: TopicCursor): number {
  if (a.dc !== b.dc) return a.dc < b.dc ? -1 : 1;
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0;
}

/** `value` as written after `previous`: `marker`, the shared length and the rest, or `plain` and all of it. */
function withSharedPrefix(marker: string, plain: string, previous: string, value: string): string {
  const limit = Math.min(previous.length, value.length, sharedMax);
  let shared = 0;
  while (shared < limit && previous.charCodeAt(shared) === value.charCodeAt(shared)) shared++;
  if (shared < sharedCharsMin) return plain + value;
  return marker + shared.toString(36).padStart(sharedWidth, '0') + value.slice(shared);
}

interface Entry {
  topic: string;
  seq: number;
  lastEventId?: string;
}

/** One entry, or what is wrong with it. */
function readEntry(item: string, previousTopic: string, previousId: string): Entry | string {
  const comma = item.indexOf(',');
  if (comma < 0) return 'no seq (an entry is topic,seq or topic,seq,event-id)';
  let topic = item.slice(0, comma);
  if (topic.startsWith('^')) {
    const prefix = sharedPrefixOf(topic.slice(1, 1 + sharedWidth), previousTopic, 'topic');
    if (prefix.error !== null) return prefix.error;
    topic = prefix.value + topic.slice(1 + sharedWidth);
  }
  const topicProblem = topicError(topic);
  if (topicProblem !== null) return topicProblem;
  const rest = item.slice(comma + 1);
  const seqEnd = rest.search(/[,+]/);
  const seq = wholeNumber(seqEnd < 0 ? rest : rest.slice(0, seqEnd));
  if (typeof seq === 'string') return `seq ${seq}`;
  if (seqEnd < 0) return { topic, seq };
  let lastEventId = rest.slice(seqEnd + 1);
  if (rest[seqEnd] === '+') {
    const prefix = sharedPrefixOf(lastEventId.slice(0, sharedWidth), previousId, 'event id');
    if (prefix.error !== null) return prefix.error;
    lastEventId = prefix.value + lastEventId.slice(sharedWidth);
  }
  const idProblem = eventIdError(lastEventId);
  if (idProblem !== null) return idProblem;
  return { topic, seq, lastEventId };
}

function sharedPrefixOf(
  digits: string,
  previous: string,
  what: string,
): { value: string; error: null } | { value: null; error: string } {
  if (!/^[0-9a-z]{2}$/.test(digits))
    return { value: null, error: `the shared length of its ${what} must be 2 base-36 digits` };
  const shared = parseInt(digits, 36);
  if (previous === '') return { value: null, error: `it shares a prefix with no previous ${what}` };
  if (shared < 1 || shared > previous.length)
    return {
      value: null,
      error: `it shares ${shared} characters of the previous ${what}, which has ${previous.length}`,
    };
  return { value: previous.slice(0, shared), error: null };
}

/** A canonical base-36 safe integer, or why `text` is not one. */
function wholeNumber(text: string): number | string {
  if (text.length > numberCharsMax || !/^(0|[1-9a-z][0-9a-z]*)$/.test(text))
    return `is not a whole number (base 36, lowercase, no leading zero, at most ${numberCharsMax} digits)`;
  const value = parseInt(text, 36);
  if (!Number.isSafeInteger(value)) return 'is past the largest safe integer';
  return value;
}

function refuse(error: string): CursorDecoding {
  return { ok: false, error };
}
