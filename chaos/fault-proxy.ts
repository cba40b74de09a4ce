/**
 * The fault proxy: the network between real `stadium serve` processes, where a chaos run injects
 * the simulator's network faults for real. Every node listens on a private port; its public URL
 * (its node id) points at one listener of this proxy, which forwards to it. The rules mirror
 * sim/world/network.ts, so a scenario means the same thing on both.
 *
 * - A link is (source node -> target node). The target is the listener a request came in on; the
 *   source is the `source` URL of a `POST /internal/message` body, named by `nodeOfUrl`. Any other
 *   request, and a message whose source is unknown or whose body is not JSON, passes through
 *   untouched: no rules apply to what is not a node-to-node message (the target judges it).
 * - A message is dropped, in the simulator's order: when either end is isolated (the source's
 *   isolation first) -> `isolated`; when its datacenters differ and a partition runs from the
 *   source's datacenter to the target's -> `partition` (a one-way partition [a, b] blocks a -> b
 *   only); then by a seeded draw at the summed odds of every loss burst over either end's
 *   datacenter (or over all, without `dc`) -> `loss`, naming the first such burst.
 * - A message that survives is delayed by one draw per jitter storm over either end's datacenter
 *   (or over all), each `baseUs` plus an exponential tail of mean `jitterUs` (the simulator's own
 *   draw, `Rng.latencyUs`); after the delay the isolation and partition checks run again, since the
 *   simulator blocks a message both when it is sent and when it arrives. Links are not FIFO (nor
 *   are the simulator's by default, nor concurrent HTTP requests).
 * - A dropped message is answered as the target would answer a delivered one, 202 `{"ok":true}`,
 *   after its whole body was read: a lost datagram is silent, so the sender must not learn of the
 *   loss sooner or otherwise than from the missing reply. Every drop is reported (`onDrop`).
 * - A forwarded message carries its method, path, body, `authorization` and `content-type` to the
 *   target, and the target's status and body come back to the sender (`onForward`). When the target
 *   cannot be reached or fails mid-answer (killed), the sender gets 502; when the sender gives up
 *   first (its 2 s send timeout, against a frozen target) the proxy abandons the upstream request
 *   and its socket; either way `onUpstreamError` reports it, saying whether the target may have
 *   received the message (the whole request had been written to its socket).
 * - Randomness: one seed, two named streams (loss draws, storm delays), so a storm never reshuffles
 *   which messages a burst drops. Times reported are `process.hrtime.bigint()` microseconds
 *   (CLOCK_MONOTONIC), the clock every process of a chaos run shares.
 *
 * Bounds and their answers: at most `heldMessagesMax` messages wait out a storm's delay at once; a
 * message beyond it is dropped as `loss` naming the storm (a router queue overflowing is loss). A
 * message body over `bodyBytesMax` is refused 413 without forwarding (far above any target's own
 * limit, so only garbage meets it). An upstream request that outlives its sender (a delayed message
 * whose sender timed out) is abandoned after `upstreamTimeoutMs`.
 */
import { createServer, request, Agent } from 'node:http';
import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  Server,
  ServerResponse,
} from 'node:http';
import { assert } from '../core/index.ts';
import { Rng } from '../sim/index.ts';
import type { Latency } from '../sim/index.ts';

/** Messages held at once for a storm's delay; past it a message is dropped as `loss`. */
export const heldMessagesMax = 10_000;
/** Largest message body the proxy reads; larger ones are refused 413. */
export const bodyBytesMax = 64 * 1024 * 1024;
/** How long an upstream request may take once its sender has gone. */
export const upstreamTimeoutMs = 10_000;

/** One node behind the proxy: its simulator name, datacenter, public port and private address. */
export interface FaultProxyTarget {
  node: string;
  dc: string;
  /** The port of its public URL; 0 picks a free one (see `portOf`). */
  listenPort: number;
  /** Where the node really listens: `http://127.0.0.1:<private port>`. */
  upstream: string;
}

export type ProxyDropReason = 'partition' | 'isolated' | 'loss';

export interface ProxyDrop {
  /** The envelope's message number, when it has one (see `messageNumberOf`). */
  m?: number;
  from: string;
  to: string;
  why: ProxyDropReason;
  /** The fault that dropped it; absent for the link's own random loss (`links`). */
  f?: number;
  tUs: number;
}

export interface ProxyForward {
  m?: number;
  from: string;
  to: string;
  /** When the target answered. */
  tUs: number;
  /** How long a storm held the message (0 without storms). */
  delayUs: number;
  status: number;
}

export interface ProxyUpstreamError {
  m?: number;
  from: string;
  to: string;
  tUs: number;
  error: string;
  /** True when the whole request had reached the target's socket: it may have been received. */
  maybeDelivered: boolean;
}

export interface FaultProxyOptions {
  targets: readonly FaultProxyTarget[];
  /** The simulator name of the node whose id (public URL) this is, or undefined for a stranger. */
  nodeOfUrl: (url: string) => string | undefined;
  seed: string;
  onDrop: (drop: ProxyDrop) => void;
  onForward?: (forward: ProxyForward) => void;
  onUpstreamError?: (error: ProxyUpstreamError) => void;
  /** The address the listeners bind; 127.0.0.1 unless told. */
  host?: string;
  /**
   * The scenario's own links, as the simulator's network draws them: each message between two
   * nodes of one datacenter (or of two) is lost at its class' odds (why `loss`, no fault) and held
   * for its class' latency on top of any storm. Absent: no loss and no added latency. A delay under
   * a millisecond is not added (a timer cannot wait less; the real hop takes about that).
   */
  links?: { intraDc: ProxyLinkClass; crossDc: ProxyLinkClass };
}

/** A class of links: its latency (base plus an exponential tail, capped as the simulator's) and loss odds. */
export interface ProxyLinkClass {
  latency: Latency;
  lossPerMillion: number;
}

export interface FaultProxy {
  /** Block messages from datacenter `between[0]` to `between[1]`, and back unless `oneWay`. */
  partition(f: number, between: readonly [string, string], oneWay: boolean): void;
  repair(f: number): void;
  /** Block every message to and from `node`. */
  isolate(f: number, node: string): void;
  release(f: number): void;
  /** Delay messages with an end in `dc` (every message without `dc`) by an extra latency draw. */
  jitterStorm(f: number, extraLatency: Latency, dc?: string): void;
  calm(f: number): void;
  /** Lose messages with an end in `dc` (every message without `dc`) at these odds. */
  lossBurst(f: number, lossPerMillion: number, dc?: string): void;
  endBurst(f: number): void;
  /** The port `node`'s listener is bound to. */
  portOf(node: string): number;
  /** Close every listener and connection, and forget held messages. */
  close(): Promise<void>;
}

interface Link {
  from: string;
  fromDc: string;
  to: string;
  toDc: string;
  m: number | undefined;
}

interface Listener {
  target: FaultProxyTarget;
  server: Server;
  upstream: URL;
}

/** Start one listener per target; resolves once all listen (rejects, closing them, if one cannot). */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { targets, nodeOfUrl } = options;
  /** Once closed the proxy reports nothing more: the failures of its own closing are not the run's. */
  let closed = false;
  const onDrop = (drop: ProxyDrop): void => {
    if (!closed) options.onDrop(drop);
  };
  const onForward = (forward: ProxyForward): void => {
    if (!closed) options.onForward?.(forward);
  };
  const onUpstreamError = (error: ProxyUpstreamError): void => {
    if (!closed) options.onUpstreamError?.(error);
  };
  const dcOf = new Map<string, string>();
  for (const target of targets) {
    if (dcOf.has(target.node)) throw new Error(`fault proxy: node ${target.node} is listed twice`);
    dcOf.set(target.node, target.dc);
  }
  const lossRng = new Rng(options.seed, 'chaos-proxy-loss');
  const delayRng = new Rng(options.seed, 'chaos-proxy-delay');
  const partitions: { f: number; from: string; to: string }[] = [];
  const isolatedBy = new Map<string, number[]>();
  let storms: { f: number; extraLatency: Latency; dc: string | undefined }[] = [];
  let bursts: { f: number; lossPerMillion: number; dc: string | undefined }[] = [];
  const held = new Set<NodeJS.Timeout>();
  const agent = new Agent({ keepAlive: true });
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

  const blocked = (link: Link): { why: ProxyDropReason; f: number } | null => {
    const isolated = isolatedBy.get(link.from)?.[0] ?? isolatedBy.get(link.to)?.[0];
    if (isolated !== undefined) return { why: 'isolated', f: isolated };
    if (link.fromDc !== link.toDc) {
      for (const p of partitions)
        if (p.from === link.fromDc && p.to === link.toDc) return { why: 'partition', f: p.f };
    }
    return null;
  };

  const touches = (dc: string | undefined, link: Link): boolean =>
    dc === undefined || dc === link.fromDc || dc === link.toDc;

  const drop = (link: Link, why: ProxyDropReason, f: number | undefined, res: ServerResponse): void => {
    onDrop({
      ...(link.m === undefined ? {} : { m: link.m }),
      from: link.from,
      to: link.to,
      why,
      ...(f === undefined ? {} : { f }),
      tUs: nowUs(),
    });
    if (!res.destroyed) answer(res, 202, '{"ok":true}');
  };

  /** Send the message on to its target; `link` is null for a request no rule applies to (never reported). */
  const forward = (
    listener: Listener,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    link: Link | null,
    delayUs: number,
  ): void => {
    const mField = link?.m === undefined ? {} : { m: link.m };
    const headers: OutgoingHttpHeaders = { 'content-length': body.length };
    for (const name of ['authorization', 'content-type'] as const)
      if (req.headers[name] !== undefined) headers[name] = req.headers[name];
    const upstream = request(new URL(req.url ?? '/', listener.upstream), {
      method: req.method,
      headers,
      agent,
    });
    let written = false;
    let settled = false;
    const fail = (error: string, status: number): void => {
      if (settled) return;
      settled = true;
      if (link !== null)
        onUpstreamError({
          ...mField,
          from: link.from,
          to: link.to,
          tUs: nowUs(),
          error,
          maybeDelivered: written,
        });
      if (!res.headersSent && !res.destroyed)
        answer(res, status, JSON.stringify({ ok: false, error: 'upstream', message: error }));
      else res.destroy();
    };
    upstream.on('finish', () => (written = true));
    upstream.setTimeout(upstreamTimeoutMs, () => {
      fail(`the target did not answer within ${upstreamTimeoutMs} ms`, 504);
      upstream.destroy();
    });
    upstream.on('error', (error) => fail(String(error), 502));
    upstream.on('response', (answerIn) => {
      answerIn.on('error', (error) => fail(String(error), 502));
      answerIn.on('end', () => {
        if (settled) return;
        settled = true;
        if (link !== null)
          onForward({
            ...mField,
            from: link.from,
            to: link.to,
            tUs: nowUs(),
            delayUs,
            status: answerIn.statusCode ?? 0,
          });
      });
      if (res.destroyed) {
        answerIn.resume();
        return;
      }
      res.writeHead(answerIn.statusCode ?? 502, passHeaders(answerIn.headers));
      answerIn.pipe(res);
    });
    // The sender gave up (a frozen target outlasts its send timeout): so does the proxy, freeing the socket.
    res.on('close', () => {
      if (settled || res.writableFinished) return;
      fail('the sender closed before the target answered', 502);
      upstream.destroy();
    });
    upstream.end(body);
  };

  const onMessage = (listener: Listener, req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const envelope = parseEnvelope(body);
    const from = envelope === null ? undefined : nodeOfUrl(envelope.source);
    const fromDc = from === undefined ? undefined : dcOf.get(from);
    if (envelope === null || from === undefined || fromDc === undefined)
      return forward(listener, req, res, body, null, 0);
    const link: Link = { from, fromDc, to: listener.target.node, toDc: listener.target.dc, m: envelope.m };
    const blockedNow = blocked(link);
    if (blockedNow !== null) return drop(link, blockedNow.why, blockedNow.f, res);
    const linkClass =
      options.links === undefined
        ? null
        : fromDc === listener.target.dc
          ? options.links.intraDc
          : options.links.crossDc;
    let lossPerMillion = linkClass?.lossPerMillion ?? 0;
    let burst: number | undefined;
    for (const b of bursts) {
      if (!touches(b.dc, link)) continue;
      lossPerMillion += b.lossPerMillion;
      burst ??= b.f;
    }
    if (lossPerMillion > 0 && lossRng.chance(lossPerMillion)) return drop(link, 'loss', burst, res);
    const linkUs = linkClass === null ? 0 : delayRng.latencyUs(linkClass.latency);
    let delayUs = linkUs >= 1_000 ? linkUs : 0;
    let storm: number | undefined;
    for (const s of storms) {
      if (!touches(s.dc, link)) continue;
      delayUs += delayRng.latencyUs(s.extraLatency);
      storm ??= s.f;
    }
    if (delayUs === 0) return forward(listener, req, res, body, link, 0);
    if (held.size >= heldMessagesMax) return drop(link, 'loss', storm, res);
    const timer = setTimeout(
      () => {
        held.delete(timer);
        const blockedLater = blocked(link);
        if (blockedLater !== null) return drop(link, blockedLater.why, blockedLater.f, res);
        forward(listener, req, res, body, link, delayUs);
      },
      Math.ceil(delayUs / 1000),
    );
    held.add(timer);
  };

  const onRequest = (listener: Listener, req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/internal/message')
      return passThrough(listener, req, res);
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= bodyBytesMax) chunks.push(chunk);
    });
    req.on('end', () => {
      if (bytes > bodyBytesMax)
        return answer(
          res,
          413,
          JSON.stringify({
            ok: false,
            error: 'payload-too-large',
            message: `the fault proxy reads at most ${bodyBytesMax} bytes`,
          }),
        );
      onMessage(listener, req, res, Buffer.concat(chunks));
    });
    req.on('error', () => res.destroy());
  };

  const passThrough = (listener: Listener, req: IncomingMessage, res: ServerResponse): void => {
    const upstream = request(new URL(req.url ?? '/', listener.upstream), {
      method: req.method,
      headers: passHeaders(req.headers),
      agent,
    });
    upstream.on('error', (error) => {
      if (!res.headersSent && !res.destroyed)
        answer(res, 502, JSON.stringify({ ok: false, error: 'upstream', message: String(error) }));
      else res.destroy();
    });
    upstream.on('response', (answerIn) => {
      if (res.destroyed) return answerIn.resume();
      res.writeHead(answerIn.statusCode ?? 502, passHeaders(answerIn.headers));
      answerIn.pipe(res);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const listeners: Listener[] = [];
  try {
    for (const target of targets) {
      const listener: Listener = { target, server: createServer(), upstream: new URL(target.upstream) };
      listener.server.on('request', (req: IncomingMessage, res: ServerResponse) =>
        onRequest(listener, req, res),
      );
      listeners.push(listener);
      await new Promise<void>((resolve, reject) => {
        listener.server.once('error', (error) =>
          reject(
            new Error(
              `fault proxy: ${target.node} cannot listen on port ${target.listenPort}: ${String(error)}`,
            ),
          ),
        );
        listener.server.listen(target.listenPort, options.host ?? '127.0.0.1', resolve);
      });
    }
  } catch (error) {
    await closeAll(listeners);
    agent.destroy();
    throw error;
  }

  return {
    partition(f, [a, b], oneWay) {
      partitions.push({ f, from: a, to: b });
      if (!oneWay) partitions.push({ f, from: b, to: a });
    },
    repair(f) {
      for (let i = partitions.length - 1; i >= 0; i--) if (partitions[i]?.f === f) partitions.splice(i, 1);
    },
    isolate(f, node) {
      assert(dcOf.has(node), `fault proxy: isolate of unknown node ${node}`);
      isolatedBy.set(node, [...(isolatedBy.get(node) ?? []), f]);
    },
    release(f) {
      for (const [node, faults] of isolatedBy) {
        const left = faults.filter((id) => id !== f);
        if (left.length === 0) isolatedBy.delete(node);
        else isolatedBy.set(node, left);
      }
    },
    jitterStorm(f, extraLatency, dc) {
      storms = [...storms, { f, extraLatency, dc }];
    },
    calm(f) {
      storms = storms.filter((s) => s.f !== f);
    },
    lossBurst(f, lossPerMillion, dc) {
      bursts = [...bursts, { f, lossPerMillion, dc }];
    },
    endBurst(f) {
      bursts = bursts.filter((b) => b.f !== f);
    },
    portOf(node) {
      const listener = listeners.find((l) => l.target.node === node);
      const address = listener?.server.address();
      assert(
        address !== undefined && address !== null && typeof address === 'object',
        `fault proxy: no listener for ${node}`,
      );
      return address.port;
    },
    async close() {
      closed = true;
      for (const timer of held) clearTimeout(timer);
      held.clear();
      await closeAll(listeners);
      agent.destroy();
    },
  };
}

/** The envelope's source and message number, or null when the body is not a node message. */
function parseEnvelope(body: Buffer): { source: string; m: number | undefined } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { source } = parsed as { source?: unknown };
  if (typeof source !== 'string') return null;
  return { source, m: messageNumberOf(parsed) };
}

/**
 * A message's number, where the envelope carries one: its own `m` field, or the recorder's tag
 * (`trace`, opaque to prod/) when that is a number or an object with a numeric `m`.
 */
export function messageNumberOf(envelope: object): number | undefined {
  const { m, trace } = envelope as { m?: unknown; trace?: unknown };
  const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
  if (isNumber(m)) return m;
  if (isNumber(trace)) return trace;
  if (typeof trace === 'object' && trace !== null && isNumber((trace as { m?: unknown }).m))
    return (trace as { m: number }).m;
  return undefined;
}

function answer(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Hop-by-hop headers belong to one connection, not to the message; `host` names the proxy, not the target. */
const hopByHop = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

function passHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !hopByHop.has(name)) out[name] = value;
  return out;
}

async function closeAll(listeners: readonly Listener[]): Promise<void> {
  await Promise.all(
    listeners.map(
      ({ server }) =>
        new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
}
