/**
 * The rules client and publisher input must satisfy. Each check returns an error message or null,
 * so roles can turn a failure into a notice or an error reply instead of a throw.
 */
import type { EventId, Topic } from './types.ts';

/** Topics are short names of letters, digits and `_ . : - /`, so they are safe in URLs, keys and logs. */
export const topicBytesMax = 128;
export const eventIdBytesMax = 128;
const topicPattern = /^[A-Za-z0-9_.:\-/]+$/;
const eventIdPattern = /^[\x21-\x7e]+$/;

export function topicError(topic: unknown): string | null {
  if (typeof topic !== 'string') return 'topic must be a string';
  if (topic.length === 0) return 'topic must not be empty';
  if (topic.length > topicBytesMax) return `topic is longer than ${topicBytesMax} characters`;
  if (!topicPattern.test(topic)) return `topic "${topic}" may only hold letters, digits and _ . : - /`;
  return null;
}

export function eventIdError(id: unknown): string | null {
  if (typeof id !== 'string') return 'event id must be a string';
  if (id.length === 0 || id.length > eventIdBytesMax)
    return `event id must be 1 to ${eventIdBytesMax} characters`;
  if (!eventIdPattern.test(id)) return 'event id may only hold printable ASCII without spaces';
  return null;
}

/**
 * Datacenter names are short names of letters, digits and `_ . -` (the rule of `stadium serve --dc`),
 * so node ids, keys and client cursors carry them as they are.
 */
export const dcCharsMax = 64;
const dcPattern = /^[A-Za-z0-9_.-]+$/;

export function dcError(dc: unknown): string | null {
  if (typeof dc !== 'string') return 'dc must be a string';
  if (dc.length === 0 || dc.length > dcCharsMax) return `dc must be 1 to ${dcCharsMax} characters`;
  if (!dcPattern.test(dc)) return `dc "${dc}" may only hold letters, digits and _ . -`;
  return null;
}

/**
 * Ids a dispatcher assigns begin with this character, and ids a publisher chooses may not: the two
 * never share a namespace, so a publisher cannot claim an id the server is about to give another
 * publish (which frontends would then drop as a duplicate).
 */
export const serverEventIdMarker = '~';

/** An id a publisher chose: a valid event id outside the servers' namespace. */
export function publisherEventIdError(id: unknown): string | null {
  const error = eventIdError(id);
  if (error !== null) return error;
  if ((id as string).startsWith(serverEventIdMarker))
    return `event ids starting with ${serverEventIdMarker} are reserved for the ids servers assign`;
  return null;
}

/** UTF-8 length of a string, computed without TextEncoder so it costs no allocation. */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * How deep a payload may nest arrays and objects (`[]` is 1 deep, `[[]]` 2): deeper than any
 * sensible document, shallow enough that checking a payload recursively can never exhaust the
 * stack, even when it is a cyclic object handed in-process.
 */
export const payloadDepthMax = 64;

/** What is wrong with a payload: not a JSON value (or nested too deep), or too large. */
export interface PayloadProblem {
  code: 'bad-payload' | 'payload-too-large';
  message: string;
}

/**
 * A payload is any JSON value — a string, a finite number, a boolean, null, an array or a plain
 * object of them — whose JSON text (`JSON.stringify`) is at most `payloadBytesMax` bytes of UTF-8.
 *
 * This runs on every publish, so it never builds the JSON text: it walks the value once, checking
 * each part and adding up the bytes its text would take. A string shorter than a sixth of the
 * limit cannot exceed it (no character takes more than six bytes of JSON: `\u001f`), so the
 * common small string payload costs nothing at all.
 */
export function payloadError(payload: unknown, payloadBytesMax: number): PayloadProblem | null {
  if (typeof payload === 'string' && payload.length * 6 + 2 <= payloadBytesMax) return null;
  const bytes = payloadJsonBytes(payload);
  if (typeof bytes === 'string') return { code: 'bad-payload', message: bytes };
  if (bytes > payloadBytesMax) {
    return {
      code: 'payload-too-large',
      message: `payload is ${groupDigits(bytes)} bytes of JSON, over the limit of ${groupDigits(payloadBytesMax)}`,
    };
  }
  return null;
}

/**
 * The UTF-8 length of `JSON.stringify(payload)` when the payload is a JSON value, else what keeps
 * it from being one (a message naming the first offending part).
 */
export function payloadJsonBytes(payload: unknown): number | string {
  return jsonBytes(payload, 0);
}

function jsonBytes(value: unknown, depth: number): number | string {
  switch (typeof value) {
    case 'string':
      return jsonStringBytes(value);
    case 'number':
      // Finite numbers print in ASCII; -0 prints as "0" both ways.
      return Number.isFinite(value) ? String(value).length : 'payload holds a non-finite number';
    case 'boolean':
      return value ? 4 : 5;
    case 'object': {
      if (value === null) return 4;
      if (depth >= payloadDepthMax) return `payload nests deeper than ${payloadDepthMax}`;
      if (Array.isArray(value)) {
        // Brackets and the commas between items.
        let bytes = 1 + Math.max(1, value.length);
        for (let i = 0; i < value.length; i++) {
          const item = jsonBytes(value[i], depth + 1);
          if (typeof item === 'string') return item;
          bytes += item;
        }
        return bytes;
      }
      const prototype = Object.getPrototypeOf(value) as unknown;
      if (prototype !== Object.prototype && prototype !== null) {
        const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
        return `payload holds ${typeof name === 'string' && name !== '' ? `a ${name}` : 'an object'}, not a plain JSON object`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      // Braces, the commas between members, and each member's colon.
      let bytes = 1 + Math.max(1, keys.length) + keys.length;
      for (const key of keys) {
        const item = jsonBytes(record[key], depth + 1);
        if (typeof item === 'string') return item;
        bytes += jsonStringBytes(key) + item;
      }
      return bytes;
    }
    // What JSON.stringify drops, throws on or turns into something else.
    case 'undefined':
      return 'payload holds undefined, not a JSON value';
    case 'function':
    case 'symbol':
    case 'bigint':
      return `payload holds a ${typeof value}, not a JSON value`;
  }
}

/** A character that is not printable ASCII, or is `"` or `\\`: one that takes other than one byte. */
const plainAsciiNot = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/;

/**
 * UTF-8 bytes of a string as JSON text: its quotes, two bytes for each of `"` `\\` and the five
 * short escapes, six for other control characters and lone surrogates (`\u....`), and the UTF-8
 * length of everything else. U+2028, U+2029 and DEL go as they are, as JSON.stringify writes them.
 */
function jsonStringBytes(text: string): number {
  // Most text is printable ASCII with nothing to escape: one native regex scan says so.
  if (!plainAsciiNot.test(text)) return text.length + 2;
  let bytes = 2;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code < 0x80) bytes += code === 0x22 || code === 0x5c ? 2 : 1;
    else if (code < 0x20)
      bytes += code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d ? 2 : 6;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 6;
    } else if (code >= 0xdc00 && code <= 0xdfff) bytes += 6;
    else bytes += 3;
  }
  return bytes;
}

/** 70000 -> "70,000": byte counts people can read at a glance. */
function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function isTopic(value: unknown): value is Topic {
  return topicError(value) === null;
}

export function isEventId(value: unknown): value is EventId {
  return eventIdError(value) === null;
}
