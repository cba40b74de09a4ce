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

export function payloadError(payload: unknown, payloadBytesMax: number): string | null {
  if (typeof payload !== 'string') return 'payload must be a string';
  const bytes = utf8Bytes(payload);
  if (bytes > payloadBytesMax) return `payload is ${bytes} bytes, over the limit of ${payloadBytesMax}`;
  return null;
}

export function isTopic(value: unknown): value is Topic {
  return topicError(value) === null;
}

export function isEventId(value: unknown): value is EventId {
  return eventIdError(value) === null;
}
