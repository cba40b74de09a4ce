/** `stadium serve`: run production roles (frontend, dispatcher, or both) on uWebSockets.js. */
import type { Command } from 'commander';
import { onStdoutClosed } from '../stdout-closed.ts';
import { UsageError } from '../usage-error.ts';

export function register(program: Command): void {
  const command = program
    .command('serve')
    .description('Serve real clients: a frontend, a dispatcher, or both in one process (the default).');
  // The option list lives in prod/config.ts so help, environment and README say the same thing.
  // It is repeated here as data, not imported, so `stadium sim` never loads uWebSockets.js.
  for (const [flag, valueName, description, env, defaultText] of serveFlags) {
    command.option(`--${flag} <${valueName}>`, `${description} [env ${env}; default ${defaultText}]`);
  }
  command
    .addHelpText(
      'after',
      `
Every option can also come from its environment variable; a flag wins over the environment.

Endpoints: GET /v1/stream?topic=T (SSE), /v1/ws (WebSocket), POST /v1/publish (one event
{"topic","payload","id"?}, the payload any JSON value; or a batch: an array of up to 1,000),
GET /v1/topics/T/occupancy (a topic's viewer count, on nodes with a dispatcher), GET /healthz,
GET /metrics, and POST /internal/message between nodes. Role all also serves a demo page at /.

Viewer counts ("N watching"): GET /v1/stream?topic=T&occupancy=1, or over WebSocket
{"type":"subscribe","topic":"T","occupancy":true}; at most one count per --occupancy-every-ms.

Node-to-node messages are never accepted without the deployment's internal token: roles frontend
and dispatcher refuse to start without one, and every node of a deployment gets the same one.

Examples:
  stadium serve                                   everything on http://127.0.0.1:7000, with the demo page
  stadium serve --port 8080 --publish-token s3cret
  stadium serve --mode reliable                   sequenced events; SSE/WebSocket clients resume from a cursor
  export STADIUM_INTERNAL_TOKEN=$(openssl rand -hex 32)   # the same on every node
  stadium serve --role dispatcher --dc dc-a --port 7101 --store redis://127.0.0.1:6379 \\
      --redis-prefix stadium:dc-a: --peers dc-b=http://10.0.2.1:7101,dc-b=http://10.0.2.2:7101
  stadium serve --role frontend --dc dc-a --port 7201 --dispatchers http://10.0.1.1:7101,http://10.0.1.2:7101
  STADIUM_ROLE=frontend STADIUM_DISPATCHERS=http://10.0.1.1:7101 stadium serve`,
    )
    .action(async (flags: Record<string, string | undefined>) => {
      const prod = await import('../../prod/index.ts');
      const parsed = prod.serveConfigFrom(flags, process.env);
      if (!parsed.ok) throw new UsageError(parsed.error);
      let server;
      try {
        server = await prod.startServer(parsed.config);
      } catch (error) {
        if (error instanceof prod.ListenError) throw new UsageError(error.message);
        throw error;
      }
      const role = parsed.config.role;
      process.stdout.write(
        `stadium serve: ${role} in ${parsed.config.dc} at ${server.url}` +
          (role === 'all' ? ` (demo page: ${server.url}/)` : '') +
          '\n',
      );
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        void server.close().then(() => process.exit(0));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      onStdoutClosed(stop);
    });
}

/** [flag, value name, description, env, default]: the same list as prod/config.ts `serveOptions`. */
export const serveFlags: readonly (readonly [string, string, string, string, string])[] = [
  ['role', 'ROLE', 'all | frontend | dispatcher', 'STADIUM_ROLE', 'all'],
  [
    'mode',
    'MODE',
    'best-effort | reliable: delivery mode, the same on every node (reliable: sequenced, acknowledged, resumable)',
    'STADIUM_MODE',
    'best-effort',
  ],
  ['dc', 'NAME', 'this datacenter', 'STADIUM_DC', 'local'],
  ['host', 'HOST', 'address to bind', 'STADIUM_HOST', '127.0.0.1'],
  ['port', 'N', 'port to bind (0: any free port)', 'STADIUM_PORT', '7000, or the next free one'],
  [
    'public-url',
    'URL',
    'base URL other nodes reach this one at (its node id)',
    'STADIUM_PUBLIC_URL',
    'http://HOST:PORT',
  ],
  [
    'store',
    'STORE',
    'memory | redis://HOST:PORT[/DB] | redis-cluster://HOST:PORT,HOST:PORT (dispatchers)',
    'STADIUM_STORE',
    'memory',
  ],
  [
    'redis-prefix',
    'P',
    "key prefix in Redis: one per datacenter's store",
    'STADIUM_REDIS_PREFIX',
    'stadium:',
  ],
  ['peers', 'LIST', "other datacenters' dispatchers: dc-b=URL,dc-b=URL,dc-c=URL", 'STADIUM_PEERS', 'none'],
  [
    'dispatchers',
    'LIST',
    "this datacenter's dispatcher URLs (frontends)",
    'STADIUM_DISPATCHERS',
    'itself in role all',
  ],
  [
    'payload-limit',
    'BYTES',
    'largest event payload accepted, in bytes of its JSON text',
    'STADIUM_PAYLOAD_LIMIT',
    '65536',
  ],
  [
    'publish-token',
    'T',
    'require Authorization: Bearer T to publish',
    'STADIUM_PUBLISH_TOKEN',
    'none (open)',
  ],
  [
    'internal-token',
    'T',
    'secret shared by all nodes (16+ characters): required on /internal/ requests, sent with their own',
    'STADIUM_INTERNAL_TOKEN',
    'required for frontend and dispatcher; made up by role all',
  ],
  [
    'jwt-secret',
    'S',
    'require an HS256 JWT with a topics claim to subscribe',
    'STADIUM_JWT_SECRET',
    'none (open)',
  ],
  [
    'slow-client-policy',
    'POLICY',
    'close | drop: what happens past the buffer limit (close the client, or drop its events)',
    'STADIUM_SLOW_CLIENT_POLICY',
    'close',
  ],
  ['slow-client-bytes', 'N', 'per-connection buffered-bytes limit', 'STADIUM_SLOW_CLIENT_BYTES', '262144'],
  ['lease-ms', 'MS', 'frontend registration lease (renewed every third)', 'STADIUM_LEASE_MS', '10000'],
  [
    'occupancy-every-ms',
    'MS',
    'viewer counts ("N watching"): how often they are reported and sent, the same on every node (0: off)',
    'STADIUM_OCCUPANCY_EVERY_MS',
    '1000',
  ],
  ['store-timeout-ms', 'MS', 'how long a dispatcher waits for its store', 'STADIUM_STORE_TIMEOUT_MS', '500'],
  ['heartbeat-ms', 'MS', 'SSE heartbeat comment interval', 'STADIUM_HEARTBEAT_MS', '15000'],
  ['sse-retry-ms', 'MS', 'reconnect delay suggested to SSE clients', 'STADIUM_SSE_RETRY_MS', '2000'],
  ['max-connections', 'N', 'connections per frontend', 'STADIUM_MAX_CONNECTIONS', '100000'],
  ['max-topics', 'N', 'topics per connection', 'STADIUM_MAX_TOPICS', '64'],
  [
    'shutdown-grace-ms',
    'MS',
    'how long SIGTERM waits for in-flight sends',
    'STADIUM_SHUTDOWN_GRACE_MS',
    '2000',
  ],
  [
    'log-level',
    'L',
    'debug | info | warn | error | silent (JSON lines on stderr)',
    'STADIUM_LOG_LEVEL',
    'info',
  ],
];
