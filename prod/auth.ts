/**
 * Optional auth. Publishing can require a shared bearer token; subscribing can require an HS256
 * JWT whose `topics` claim lists the topics the client may join (`"*"` alone allows every topic).
 * A missing token is 401, a wrong one or a topic outside the grant is 403; nothing is subscribed
 * or published in either case. A token's `exp` bounds its connection's life: the frontend ends the
 * connection then, unless a WebSocket sent a fresh token first (`refresh`).
 */
import { timingSafeEqual } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { Topic } from '../core/index.ts';
import { httpError } from './http-input.ts';
import type { HttpError } from './http-input.ts';

/**
 * Which topics a subscriber may join: all of them (no auth configured, or `*`), or a list; and
 * until when (the token's `exp`, in ms), or null when the token does not expire.
 */
export type TopicGrant = ({ all: true } | { all: false; topics: ReadonlySet<Topic> }) & {
  expiresAtMs: number | null;
};

export const openGrant: TopicGrant = { all: true, expiresAtMs: null };

export function checkPublishToken(expected: string | null, token: string | null): HttpError | null {
  return checkBearerToken(expected, token, 'publishing needs the publish token');
}

/** A shared secret compared in constant time: null when `expected` is null or `token` matches. */
export function checkBearerToken(
  expected: string | null,
  token: string | null,
  need: string,
): HttpError | null {
  if (expected === null) return null;
  if (token === null) return httpError(401, 'unauthorized', `${need}: Authorization: Bearer <token>`);
  const a = Buffer.from(token);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return httpError(403, 'forbidden', `${need}; this one is not valid`);
  return null;
}

/** The 401 for a subscriber that brought no token at all (checked before any asynchronous step). */
export function subscribeTokenMissing(token: string | null): HttpError | null {
  return token === null || token === '' ? noToken() : null;
}

function noToken(): HttpError {
  return httpError(
    401,
    'unauthorized',
    'subscribing needs a token: ?token=<JWT> or Authorization: Bearer <JWT>',
  );
}

/** Verify a subscribe token; with no secret configured every topic is open. */
export async function subscribeGrant(
  secret: Uint8Array | null,
  token: string | null,
): Promise<TopicGrant | HttpError> {
  if (secret === null) return openGrant;
  if (token === null || token === '') return noToken();
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    const topics = payload.topics;
    if (!Array.isArray(topics) || !topics.every((t): t is string => typeof t === 'string')) {
      return httpError(403, 'forbidden', 'the token has no "topics" claim listing topic names');
    }
    const expiresAtMs = typeof payload.exp === 'number' ? payload.exp * 1000 : null;
    if (topics.includes('*')) return { all: true, expiresAtMs };
    return { all: false, topics: new Set(topics), expiresAtMs };
  } catch (error) {
    const why =
      error instanceof errors.JWTExpired
        ? 'the token has expired'
        : error instanceof errors.JOSEError
          ? `the token is not valid (${error.code})`
          : 'the token is not valid';
    return httpError(403, 'forbidden', why);
  }
}

/** The first topic the grant does not allow, as a 403, or null when all are allowed. */
export function grantError(grant: TopicGrant, topics: readonly Topic[]): HttpError | null {
  if (grant.all) return null;
  const denied = topics.find((topic) => !grant.topics.has(topic));
  return denied === undefined
    ? null
    : httpError(403, 'forbidden', `the token does not allow topic "${denied}"`);
}

export function jwtSecretKey(secret: string | null): Uint8Array | null {
  return secret === null ? null : new TextEncoder().encode(secret);
}
