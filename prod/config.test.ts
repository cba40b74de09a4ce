// Goal: `stadium serve` settings come from flags, then environment, then defaults, and bad values
// become one clear line instead of a crash. Method: parse chosen flag/env combinations.
import { describe, expect, it } from 'vitest';
import { parsePeers, serveConfigFrom, serveOptions } from './config.ts';
import type { ConfigResult, ServeConfig } from './config.ts';
import { parseRedisClusterUrl } from './redis-cluster-url.ts';
import { dispatcherOptions, frontendOptions } from './role-options.ts';

const ok = (result: ConfigResult): ServeConfig => {
  if (!result.ok) throw new Error(result.error);
  return result.config;
};
const error = (result: ConfigResult): string => (result.ok ? 'no error' : result.error);

describe('serve config', () => {
  it('with no options: everything in one process on 127.0.0.1:7000 with the memory store', () => {
    const config = ok(serveConfigFrom({}, {}));
    expect(config).toMatchObject({
      role: 'all',
      dc: 'local',
      host: '127.0.0.1',
      port: 7000,
      portExplicit: false,
      store: 'memory',
      payloadLimitBytes: 65_536,
      slowClientPolicy: 'close',
      publishToken: null,
      jwtSecret: null,
      logLevel: 'info',
      peers: {},
      dispatchers: [],
      occupancyEveryMs: 1_000,
    });
  });

  it('viewer counts: on every second by default, 0 turns them off, and both roles are given the interval', () => {
    const config = ok(serveConfigFrom({ occupancyEveryMs: '250' }, {}));
    expect(config.occupancyEveryMs).toBe(250);
    expect(frontendOptions(config, 'http://127.0.0.1:7000').occupancyEveryMs).toBe(250);
    expect(dispatcherOptions(config, 'http://127.0.0.1:7000').occupancyEveryMs).toBe(250);
    expect(ok(serveConfigFrom({}, { STADIUM_OCCUPANCY_EVERY_MS: '0' })).occupancyEveryMs).toBe(0);
    expect(error(serveConfigFrom({ occupancyEveryMs: '99' }, {}))).toBe(
      '--occupancy-every-ms must be 0 (off) or from 100 to 60000, got 99',
    );
    expect(error(serveConfigFrom({ occupancyEveryMs: '1e3' }, {}))).toMatch(
      /^--occupancy-every-ms must be an integer/,
    );
  });

  it('environment variables fill in, flags win over them', () => {
    const env = {
      STADIUM_ROLE: 'dispatcher',
      STADIUM_DC: 'dc-a',
      STADIUM_PORT: '7101',
      STADIUM_PAYLOAD_LIMIT: '1024',
      STADIUM_INTERNAL_TOKEN: 'shared-by-every-node',
    };
    const fromEnv = ok(serveConfigFrom({}, env));
    expect(fromEnv).toMatchObject({
      role: 'dispatcher',
      dc: 'dc-a',
      port: 7101,
      portExplicit: true,
      payloadLimitBytes: 1024,
    });
    const flagged = ok(serveConfigFrom({ dc: 'dc-b', payloadLimit: '2048' }, env));
    expect(flagged).toMatchObject({ role: 'dispatcher', dc: 'dc-b', payloadLimitBytes: 2048 });
  });

  it('every option has its STADIUM_ environment variable', () => {
    expect(serveOptions.map((o) => o.env)).toContain('STADIUM_SLOW_CLIENT_POLICY');
    for (const option of serveOptions)
      expect(option.env).toBe(`STADIUM_${option.flag.toUpperCase().replaceAll('-', '_')}`);
    const config = ok(serveConfigFrom({}, { STADIUM_SLOW_CLIENT_POLICY: 'drop', STADIUM_JWT_SECRET: 'k' }));
    expect(config.slowClientPolicy).toBe('drop');
    expect(config.jwtSecret).toBe('k');
  });

  it('a redis-cluster:// store names its seed nodes', () => {
    const config = ok(serveConfigFrom({ store: 'redis-cluster://10.0.0.1:7000,10.0.0.2:7001' }, {}));
    expect(config.store).toBe('redis-cluster://10.0.0.1:7000,10.0.0.2:7001');
    expect(parseRedisClusterUrl('redis-cluster://:s3cret@h1:7000,[::1]:7001')).toEqual({
      nodes: [
        { host: 'h1', port: 7000 },
        { host: '::1', port: 7001 },
      ],
      password: 's3cret',
    });
  });

  it('peers are grouped by datacenter and URLs canonicalised', () => {
    const config = ok(
      serveConfigFrom(
        { dc: 'dc-a', peers: 'dc-b=http://10.0.0.1:7101/,dc-b=http://10.0.0.2:7101, dc-c=http://h:1' },
        {},
      ),
    );
    expect(config.peers).toEqual({
      'dc-b': ['http://10.0.0.1:7101', 'http://10.0.0.2:7101'],
      'dc-c': ['http://h:1'],
    });
    expect(parsePeers('')).toEqual({});
  });

  it.each([
    [{ role: 'leader' }, '--role must be one of all, frontend, dispatcher'],
    [{ port: '70000' }, '--port must be an integer from 0 to 65535'],
    [{ port: '12ab' }, '--port must be an integer'],
    [{ store: 'postgres://x' }, '--store must be memory, redis://HOST:PORT[/DB] or redis-cluster://'],
    [{ store: 'redis-cluster://h:1,nohost' }, '--store redis-cluster:// URL: "nohost" is not HOST:PORT'],
    [{ store: 'redis-cluster://' }, '--store redis-cluster:// URL: "" is not HOST:PORT'],
    [
      { store: 'redis-cluster://h:1', redisPrefix: 'dc{a}:' },
      '--redis-prefix must not hold { or } with a redis-cluster:// store',
    ],
    [{ peers: 'http://no-dc:1' }, '--peers entries must look like dc-b=http://host:port'],
    [{ dc: 'dc-a', peers: 'dc-a=http://h:1' }, '--peers must not list this datacenter'],
    [{ role: 'frontend' }, '--role frontend needs --dispatchers'],
    [{ role: 'frontend', dispatchers: 'ftp://x' }, '--dispatchers entries must be http:// URLs'],
    [{ slowClientPolicy: 'ignore' }, '--slow-client-policy must be one of close, drop'],
    [{ logLevel: 'loud' }, '--log-level must be one of'],
    [{ publicUrl: 'not a url' }, '--public-url must be an http:// URL'],
    [{ role: 'dispatcher', host: '0.0.0.0', internalToken: 'shared-by-every-node' }, 'give --public-url'],
    [{ role: 'dispatcher' }, '--role dispatcher needs --internal-token'],
    [{ internalToken: 'short' }, '--internal-token must be at least 16 characters'],
  ])('bad flags are one clear line: %j', (flags, expected) => {
    expect(error(serveConfigFrom(flags, {}))).toContain(expected);
  });

  it('a frontend needs dispatchers and takes no store', () => {
    const config = ok(
      serveConfigFrom(
        {
          role: 'frontend',
          dispatchers: 'http://127.0.0.1:7101,http://127.0.0.1:7102',
          internalToken: 'shared-by-every-node',
        },
        {},
      ),
    );
    expect(config.dispatchers).toEqual(['http://127.0.0.1:7101', 'http://127.0.0.1:7102']);
    expect(
      error(
        serveConfigFrom(
          {
            role: 'frontend',
            dispatchers: 'http://h:1',
            store: 'memory',
            internalToken: 'shared-by-every-node',
          },
          {},
        ),
      ),
    ).toContain('--store is for dispatchers');
  });

  it('accepts a redis store with a database number', () => {
    expect(ok(serveConfigFrom({ store: 'redis://127.0.0.1:6379/2' }, {})).store).toBe(
      'redis://127.0.0.1:6379/2',
    );
  });
});
