// Goal: a missing token is 401, a wrong one or a topic outside the grant is 403, and a good token
// grants exactly its topics. Method: sign real HS256 tokens with jose and check them.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  checkBearerToken,
  checkPublishToken,
  grantError,
  jwtSecretKey,
  openGrant,
  subscribeGrant,
} from './auth.ts';
import { isHttpError } from './http-input.ts';

const secret = jwtSecretKey('test-secret')!;
const sign = (claims: Record<string, unknown>, key: Uint8Array = secret, expiresIn = '1h'): Promise<string> =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);

describe('publish token', () => {
  it('open without a token configured; 401 missing, 403 wrong, null when right', () => {
    expect(checkPublishToken(null, null)).toBeNull();
    expect(checkPublishToken('s3cret', null)?.status).toBe(401);
    expect(checkPublishToken('s3cret', 'guess')?.status).toBe(403);
    expect(checkPublishToken('s3cret', 's3cre')?.status).toBe(403);
    expect(checkPublishToken('s3cret', 's3cret')).toBeNull();
    expect(checkBearerToken('internal', null, 'nodes need it')?.message).toContain('nodes need it');
  });
});

describe('subscribe tokens', () => {
  it('with no secret every topic is open', async () => {
    expect(await subscribeGrant(null, null)).toEqual(openGrant);
  });

  it('a token grants the topics it lists, and only those', async () => {
    const grant = await subscribeGrant(secret, await sign({ topics: ['likes', 'video:1'] }));
    expect(isHttpError(grant)).toBe(false);
    if (isHttpError(grant)) return;
    expect(grantError(grant, ['likes'])).toBeNull();
    expect(grantError(grant, ['likes', 'video:1'])).toBeNull();
    expect(grantError(grant, ['likes', 'secret-room'])).toMatchObject({ status: 403, code: 'forbidden' });
  });

  it('"*" grants every topic, until the token expires', async () => {
    const before = Date.now();
    const grant = await subscribeGrant(secret, await sign({ topics: ['*'] }));
    expect(grant).toMatchObject({ all: true });
    const expiresAtMs = isHttpError(grant) ? null : grant.expiresAtMs;
    // One hour from the whole second the token was signed in.
    expect(expiresAtMs).toBeGreaterThan(before + 3_600_000 - 1_000);
    expect(expiresAtMs).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(openGrant.expiresAtMs).toBeNull();
  });

  it('missing 401; bad signature, expired, or no topics claim 403', async () => {
    expect(await subscribeGrant(secret, null)).toMatchObject({ status: 401 });
    expect(await subscribeGrant(secret, '')).toMatchObject({ status: 401 });
    expect(await subscribeGrant(secret, 'not.a.jwt')).toMatchObject({ status: 403 });
    const other = jwtSecretKey('other-secret')!;
    expect(await subscribeGrant(secret, await sign({ topics: ['likes'] }, other))).toMatchObject({
      status: 403,
    });
    const expired = await new SignJWT({ topics: ['likes'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret);
    expect(await subscribeGrant(secret, expired)).toMatchObject({
      status: 403,
      message: 'the token has expired',
    });
    expect(await subscribeGrant(secret, await sign({ rooms: ['likes'] }))).toMatchObject({ status: 403 });
  });
});
