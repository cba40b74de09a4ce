/**
 * The settings of one `stadium serve` process, from flags, then environment variables, then
 * defaults. Every option is described once, in `serveOptions`: the CLI builds its flags and help
 * from it and the README's table says the same. Parsing never throws: a bad value comes back as one
 * clear line that the CLI turns into a usage error.
 */
import { cursorTopicsMax, deliveryModes } from '../core/index.ts';
import type { DcId, DeliveryMode, NodeId } from '../core/index.ts';
import { isRedisClusterUrl, parseRedisClusterUrl } from './redis-cluster-url.ts';

export type Role = 'all' | 'frontend' | 'dispatcher';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type SlowClientPolicy = 'close' | 'drop';

export interface ServeConfig {
  role: Role;
  /** Best-effort or reliable (sequenced, acknowledged, resumable): the same on every node of a deployment. */
  mode: DeliveryMode;
  dc: DcId;
  host: string;
  /** 0 binds any free port. */
  port: number;
  /** True when the port was asked for; otherwise the next free port from 7000 upwards is taken. */
  portExplicit: boolean;
  /** This node's id and the base URL other nodes reach it at; null: `http://host:port`. */
  publicUrl: string | null;
  /** `memory`, a `redis://host:port[/db]` URL, or a `redis-cluster://host:port,host:port` URL. */
  store: string;
  redisPrefix: string;
  /** Dispatchers of every other datacenter, for cross-datacenter forwarding. */
  peers: Record<DcId, NodeId[]>;
  /** This datacenter's dispatchers, for a frontend; empty in role `all` means itself. */
  dispatchers: NodeId[];
  payloadLimitBytes: number;
  publishToken: string | null;
  /**
   * Shared by every node of a deployment: required on, and sent with, `/internal/` requests. Always
   * set for roles frontend and dispatcher; null in role `all`, where the server makes up its own
   * (nobody else needs it, and `/internal/` then refuses everyone).
   */
  internalToken: string | null;
  jwtSecret: string | null;
  slowClientPolicy: SlowClientPolicy;
  slowClientBytes: number;
  leaseMs: number;
  /** Viewer counts: how often frontends report them and tell watchers, and dispatchers tell peers (0: off). */
  occupancyEveryMs: number;
  storeTimeoutMs: number;
  heartbeatMs: number;
  sseRetryMs: number;
  connectionsMax: number;
  topicsPerConnectionMax: number;
  shutdownGraceMs: number;
  logLevel: LogLevel;
}

export interface ServeOption {
  /** The long flag without dashes, e.g. `slow-client-bytes`. */
  flag: string;
  env: string;
  valueName: string;
  description: string;
  defaultText: string;
}

const option = (flag: string, valueName: string, description: string, defaultText: string): ServeOption => ({
  flag,
  env: `STADIUM_${flag.toUpperCase().replace(/-/g, '_')}`,
  valueName,
  description,
  defaultText,
});

export const serveOptions: readonly ServeOption[] = [
  option('role', 'ROLE', 'all | frontend | dispatcher', 'all'),
  option(
    'mode',
    'MODE',
    'best-effort | reliable: delivery mode, the same on every node (reliable: sequenced, acknowledged, resumable)',
    'best-effort',
  ),
  option('dc', 'NAME', 'this datacenter', 'local'),
  option('host', 'HOST', 'address to bind', '127.0.0.1'),
  option('port', 'N', 'port to bind (0: any free port)', '7000, or the next free one'),
  option('public-url', 'URL', 'base URL other nodes reach this one at (its node id)', 'http://HOST:PORT'),
  option(
    'store',
    'STORE',
    'memory | redis://HOST:PORT[/DB] | redis-cluster://HOST:PORT,HOST:PORT (dispatchers)',
    'memory',
  ),
  option('redis-prefix', 'P', "key prefix in Redis: one per datacenter's store", 'stadium:'),
  option('peers', 'LIST', "other datacenters' dispatchers: dc-b=URL,dc-b=URL,dc-c=URL", 'none'),
  option('dispatchers', 'LIST', "this datacenter's dispatcher URLs (frontends)", 'itself in role all'),
  option('payload-limit', 'BYTES', 'largest event payload accepted, in bytes of its JSON text', '65536'),
  option('publish-token', 'T', 'require Authorization: Bearer T to publish', 'none (open)'),
  option(
    'internal-token',
    'T',
    'secret shared by all nodes (16+ characters): required on /internal/ requests, sent with their own',
    'required for frontend and dispatcher; made up by role all',
  ),
  option('jwt-secret', 'S', 'require an HS256 JWT with a topics claim to subscribe', 'none (open)'),
  option(
    'slow-client-policy',
    'POLICY',
    'close | drop: what happens past the buffer limit (close the client, or drop its events)',
    'close',
  ),
  option('slow-client-bytes', 'N', 'per-connection buffered-bytes limit', '262144'),
  option('lease-ms', 'MS', 'frontend registration lease (renewed every third)', '10000'),
  option(
    'occupancy-every-ms',
    'MS',
    'viewer counts ("N watching"): how often they are reported and sent, the same on every node (0: off)',
    '1000',
  ),
  option('store-timeout-ms', 'MS', 'how long a dispatcher waits for its store', '500'),
  option('heartbeat-ms', 'MS', 'SSE heartbeat comment interval', '15000'),
  option('sse-retry-ms', 'MS', 'reconnect delay suggested to SSE clients', '2000'),
  option('max-connections', 'N', 'connections per frontend', '100000'),
  option('max-topics', 'N', 'topics per connection', '64'),
  option('shutdown-grace-ms', 'MS', 'how long SIGTERM waits for in-flight sends', '2000'),
  option('log-level', 'L', 'debug | info | warn | error | silent (JSON lines on stderr)', 'info'),
];

/** Raw option values as commander hands them over: camelCase keys, string values. */
export type ServeFlags = Record<string, string | undefined>;

/** The occupancy interval's bounds when it is on (0 turns it off). */
export const occupancyEveryMsMin = 100;
export const occupancyEveryMsMax = 60_000;

/** The shortest internal token accepted: long enough that it cannot be guessed in practice. */
export const internalTokenLengthMin = 16;

export type ConfigResult = { ok: true; config: ServeConfig } | { ok: false; error: string };

export function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Build a config from flags (highest precedence), then `env`, then defaults. */
export function serveConfigFrom(flags: ServeFlags, env: Record<string, string | undefined>): ConfigResult {
  const raw = (flag: string): string | undefined => {
    const fromFlag = flags[camelCase(flag)];
    if (fromFlag !== undefined) return fromFlag;
    const spec = serveOptions.find((o) => o.flag === flag);
    const fromEnv = spec === undefined ? undefined : env[spec.env];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const errors: string[] = [];
  const integer = (flag: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = raw(flag);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      errors.push(`--${flag} must be an integer from ${min} to ${max}, got "${text}"`);
      return fallback;
    }
    return value;
  };
  const choice = <T extends string>(flag: string, choices: readonly T[], fallback: T): T => {
    const text = raw(flag);
    if (text === undefined) return fallback;
    if (!(choices as readonly string[]).includes(text)) {
      errors.push(`--${flag} must be one of ${choices.join(', ')}, got "${text}"`);
      return fallback;
    }
    return text as T;
  };

  const role = choice<Role>('role', ['all', 'frontend', 'dispatcher'], 'all');
  const mode = choice<DeliveryMode>('mode', deliveryModes, 'best-effort');
  const dc = raw('dc') ?? 'local';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(dc))
    errors.push(`--dc must be a short name of letters, digits, _ . -, got "${dc}"`);
  const host = raw('host') ?? '127.0.0.1';
  const portText = raw('port');
  const port = integer('port', 7000, 0, 65535);
  const publicUrlText = raw('public-url');
  let publicUrl: string | null = null;
  if (publicUrlText !== undefined) {
    const url = nodeUrl(publicUrlText);
    if (url === null) errors.push(`--public-url must be an http:// URL, got "${publicUrlText}"`);
    else publicUrl = url;
  }
  const store = raw('store') ?? 'memory';
  if (isRedisClusterUrl(store)) {
    const cluster = parseRedisClusterUrl(store);
    if (typeof cluster === 'string') errors.push(`--store redis-cluster:// URL: ${cluster}, got "${store}"`);
    if (/[{}]/.test(raw('redis-prefix') ?? '')) {
      errors.push(
        '--redis-prefix must not hold { or } with a redis-cluster:// store (they are its hash tags)',
      );
    }
  } else if (store !== 'memory' && redisUrlError(store) !== null) {
    errors.push(
      `--store must be memory, redis://HOST:PORT[/DB] or redis-cluster://HOST:PORT,HOST:PORT, got "${store}"`,
    );
  }
  const peersResult = parsePeers(raw('peers') ?? '');
  if (typeof peersResult === 'string') errors.push(peersResult);
  const peers = typeof peersResult === 'string' ? {} : peersResult;
  if (dc in peers) errors.push(`--peers must not list this datacenter (${dc})`);
  const dispatchersResult = parseUrlList(raw('dispatchers') ?? '', '--dispatchers');
  if (typeof dispatchersResult === 'string') errors.push(dispatchersResult);
  const dispatchers = typeof dispatchersResult === 'string' ? [] : dispatchersResult;
  if (role === 'frontend' && dispatchers.length === 0 && typeof dispatchersResult !== 'string') {
    errors.push('--role frontend needs --dispatchers URL,... (the dispatchers of its datacenter)');
  }
  if (role === 'frontend' && raw('store') !== undefined) {
    errors.push('--store is for dispatchers; a frontend reaches the store through them');
  }
  const leaseMs = integer('lease-ms', 10_000, 3, 10 * 60_000);
  const occupancyEveryMs = integer('occupancy-every-ms', 1_000, 0, occupancyEveryMsMax);
  // A shorter interval would renew every watched topic's lease that often, for no one's benefit.
  if (occupancyEveryMs > 0 && occupancyEveryMs < occupancyEveryMsMin)
    errors.push(
      `--occupancy-every-ms must be 0 (off) or from ${occupancyEveryMsMin} to ${occupancyEveryMsMax}, got ${occupancyEveryMs}`,
    );
  // Node-to-node messages can deliver, subscribe and unsubscribe on any topic: they are never
  // accepted without the deployment's shared secret, so a node that talks to others needs one.
  const internalToken = raw('internal-token') ?? null;
  if (internalToken !== null && internalToken.length < internalTokenLengthMin) {
    errors.push(
      `--internal-token must be at least ${internalTokenLengthMin} characters (make one with: openssl rand -hex 32)`,
    );
  }
  if (role !== 'all' && internalToken === null) {
    errors.push(
      `--role ${role} needs --internal-token T (or STADIUM_INTERNAL_TOKEN): the secret every node of the deployment shares; node-to-node messages are never accepted without it (make one with: openssl rand -hex 32)`,
    );
  }
  if (role !== 'all' && publicUrl === null && ['0.0.0.0', '::', '[::]'].includes(host)) {
    errors.push(
      `--host ${host} binds every address: give --public-url, the address other nodes reach this one at`,
    );
  }

  const topicsPerConnectionMax = integer('max-topics', 64, 1, 10_000);
  // A reliable SSE stream's id holds a cursor for every topic of its connection, and a cursor text
  // holds at most cursorTopicsMax of them (core/cursor.ts).
  if (mode === 'reliable' && topicsPerConnectionMax > cursorTopicsMax) {
    errors.push(
      `--max-topics must be at most ${cursorTopicsMax} with --mode reliable (a cursor text holds that many topics), got ${topicsPerConnectionMax}`,
    );
  }

  const config: ServeConfig = {
    role,
    mode,
    dc,
    host,
    port,
    portExplicit: portText !== undefined,
    publicUrl,
    store,
    redisPrefix: raw('redis-prefix') ?? 'stadium:',
    peers,
    dispatchers,
    payloadLimitBytes: integer('payload-limit', 65_536, 1, 16 * 1024 * 1024),
    publishToken: raw('publish-token') ?? null,
    internalToken,
    jwtSecret: raw('jwt-secret') ?? null,
    slowClientPolicy: choice<SlowClientPolicy>('slow-client-policy', ['close', 'drop'], 'close'),
    slowClientBytes: integer('slow-client-bytes', 262_144, 1024),
    leaseMs,
    occupancyEveryMs,
    storeTimeoutMs: integer('store-timeout-ms', 500, 1, 60_000),
    heartbeatMs: integer('heartbeat-ms', 15_000, 100),
    sseRetryMs: integer('sse-retry-ms', 2_000, 0),
    connectionsMax: integer('max-connections', 100_000, 1),
    topicsPerConnectionMax,
    shutdownGraceMs: integer('shutdown-grace-ms', 2_000, 0, 60_000),
    logLevel: choice<LogLevel>('log-level', ['debug', 'info', 'warn', 'error', 'silent'], 'info'),
  };
  if (errors.length > 0) return { ok: false, error: errors[0] as string };
  return { ok: true, config };
}

/** A node's base URL in canonical form (no trailing slash), or null when it is not an http URL. */
export function nodeUrl(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' || url.search !== '' || url.hash !== '') return null;
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

export function redisUrlError(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'redis:') return 'not a redis:// URL';
  if (!/^(\/\d{0,2})?$/.test(url.pathname)) return 'the database must be a number';
  return null;
}

/** `dc-b=URL,dc-b=URL,dc-c=URL` into `{ 'dc-b': [URL, URL], 'dc-c': [URL] }`, or an error line. */
export function parsePeers(text: string): Record<DcId, NodeId[]> | string {
  const peers: Record<DcId, NodeId[]> = {};
  for (const item of text.split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const dc = eq > 0 ? item.slice(0, eq) : '';
    const url = eq > 0 ? nodeUrl(item.slice(eq + 1)) : null;
    if (dc === '' || url === null)
      return `--peers entries must look like dc-b=http://host:port, got "${item}"`;
    (peers[dc] ??= []).push(url);
  }
  return peers;
}

export function parseUrlList(text: string, flag: string): NodeId[] | string {
  const urls: NodeId[] = [];
  for (const item of text.split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const url = nodeUrl(item);
    if (url === null) return `${flag} entries must be http:// URLs, got "${item}"`;
    urls.push(url);
  }
  return urls;
}
