/**
 * The subscription store in Redis, for datacenters with more than one dispatcher. It keeps the
 * contract of the core's store (`core/subscription-store.ts`), checked by one shared suite. The
 * store's rules and its key layout are Lua scripts (prod/redis-store-scripts.ts); this adapter
 * connects, calls them, and turns their answers into the core's replies and lease changes.
 *
 * - A lapsed lease is reported `expired` when it is deleted, `lapsedKeepMs` after it lapsed (the
 *   core's store reports it when it lapses).
 * - Lookups asked in one event-loop iteration (a batch publish, or many publishers at once) go to
 *   Redis as one script call over all their topics, answered one by one: a dispatcher spent more
 *   of its CPU on a command per lookup than on everything else a publish does.
 * - Keys carry a TTL as long as their longest lease, so a crashed frontend's entries, and a whole
 *   abandoned datacenter prefix, die by themselves; lookups also delete dead entries they meet.
 * - Histories (reliable mode): an `append` sequences its event in the topic's history and looks the
 *   topic's frontends up in the same script call, so a reliable publish is still one round trip;
 *   appends asked in one event-loop iteration share one call, as lookups do. `read` answers part of
 *   a history; lease writes answer their topics' heads. The layout, and why a stream, is in
 *   prod/redis-store-scripts.ts. Appends and trims are told to `onHistory`, as the core's store
 *   reports them as effects; a history that expires idle by its TTL is not reported (it is what
 *   age trimming would have done).
 * - Occupancy: a lease write stores each topic's count beside its lease and answers the topics'
 *   occupancy (their live leases' counts summed, and the peer totals held) in the same script call;
 *   `remote-totals` and `occupancy` are one call each. Where a count and a total live, and how they
 *   are forgotten, is in prod/redis-store-scripts.ts.
 * - Redis being down is the weather: with no offline queue and no retries a request rejects at once,
 *   the dispatcher's store timeout answers the publisher 503, and the frontends' renewals repair
 *   every registration once Redis is back.
 */
import { Redis } from 'ioredis';
import {
  defaultStoreLimits,
  historyAfterError,
  leaseWriteError,
  occupancyTopicsError,
  remoteTotalsError,
  topicError,
} from '../core/index.ts';
import type { Event, LeaseChange, StoreLimits, StoreReply, StoreRequest, TopicHead } from '../core/index.ts';
import {
  appendScript,
  lookupScript,
  occupancyScript,
  readScript,
  remoteTotalsScript,
  removeScript,
  storeOccupancyOf,
  writeScript,
} from './redis-store-scripts.ts';
import type { HistoryListener, LeaseListener, SubscriptionStorePort } from './store-port.ts';

/** Lookups in one script call at most (a larger batch is split). */
const lookupsPerCallMax = 256;
/**
 * Appends in one script call at most (a larger batch is split): measured best between 16 and 64 on
 * a 2-core machine (bench/redis-history-candidates.ts); Redis' cost per append grew past that.
 */
const appendsPerCallMax = 64;

interface PendingLookup {
  topic: string;
  resolve: (reply: StoreReply) => void;
  reject: (error: unknown) => void;
}

interface PendingAppend {
  event: Event;
  resolve: (reply: StoreReply) => void;
  reject: (error: unknown) => void;
}

/** One event's answer from the append script (see appendScript). */
type AppendAnswer = ['full', number] | [number, number, number, string[], number[], string[], string[]];

export interface RedisStoreOptions {
  url: string;
  /** Every key starts with it: one prefix per datacenter (and per test run). */
  prefix: string;
  limits?: Partial<StoreLimits>;
  onLease?: LeaseListener;
  /** Told every append and trim of a history (reliable mode). */
  onHistory?: HistoryListener;
  /** Told when the connection goes up or down, with the error that took it down. */
  onStatus?: (status: 'up' | 'down', error?: Error) => void;
}

type ScriptRunner = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export class RedisStore implements SubscriptionStorePort {
  private readonly redis: Redis;
  private readonly limits: StoreLimits;
  private readonly prefix: string;
  private readonly onLease: LeaseListener;
  private readonly onHistory: HistoryListener;
  /** The last status reported to `onStatus`; null until the first verdict, which is always reported. */
  private lastStatus: 'up' | 'down' | null = null;
  /** Lookups of this event-loop iteration, sent together after it. */
  private lookups: PendingLookup[] = [];
  /** Appends of this event-loop iteration, sent together after it. */
  private appends: PendingAppend[] = [];

  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix;
    this.limits = { ...defaultStoreLimits, ...options.limits };
    this.onLease = options.onLease ?? (() => {});
    this.onHistory = options.onHistory ?? (() => {});
    const onStatus = options.onStatus ?? (() => {});
    this.redis = new Redis(options.url, {
      // Fail fast while disconnected: the dispatcher's timeout turns silence into a 503.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1_000,
      // A Redis that stops answering without closing must not let requests pile up unanswered.
      commandTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
      lazyConnect: false,
    });
    this.redis.on('ready', () => {
      if (this.lastStatus !== 'up') onStatus('up');
      this.lastStatus = 'up';
    });
    this.redis.on('error', (error: Error) => {
      if (this.lastStatus !== 'down') onStatus('down', error);
      this.lastStatus = 'down';
    });
    this.redis.on('close', () => {
      if (this.lastStatus !== 'down') onStatus('down');
      this.lastStatus = 'down';
    });
    this.redis.defineCommand('stadiumWrite', { lua: writeScript });
    this.redis.defineCommand('stadiumRemove', { lua: removeScript });
    this.redis.defineCommand('stadiumLookup', { lua: lookupScript });
    this.redis.defineCommand('stadiumAppend', { lua: appendScript });
    this.redis.defineCommand('stadiumRead', { lua: readScript });
    this.redis.defineCommand('stadiumOccupancy', { lua: occupancyScript });
    this.redis.defineCommand('stadiumRemoteTotals', { lua: remoteTotalsScript });
  }

  /** Resolves once connected (or rejects after `timeoutMs`): for tests and startup checks. */
  ready(timeoutMs = 2_000): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new Error(`Redis not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  async request(request: StoreRequest): Promise<StoreReply> {
    switch (request.op) {
      case 'lookup': {
        const error = topicError(request.topic);
        if (error !== null) return rejected('bad-request', error);
        return new Promise((resolve, reject) => {
          if (this.lookups.length === 0) setImmediate(() => this.flushLookups());
          this.lookups.push({ topic: request.topic, resolve, reject });
        });
      }
      case 'add':
      case 'renew':
        return this.write(request);
      case 'remove': {
        const error = topicError(request.topic);
        if (error !== null) return rejected('bad-request', error);
        const [removed, epochId, epochAgeMs, occupancy] = (await this.run('stadiumRemove')(
          6,
          this.key('epoch'),
          this.key('topics'),
          this.topicKey(request.topic),
          this.key('heads'),
          this.occupancyKey('counts', request.topic),
          this.occupancyKey('remote', request.topic),
          request.frontend,
          request.generation,
          request.topic,
          this.limits.tombstoneMs,
          this.epochTtlMs(),
          this.limits.remoteKeepMs,
        )) as [number, string, number, unknown];
        if (removed === 1)
          this.onLease({ change: 'removed', topic: request.topic, frontend: request.frontend });
        return {
          op: 'written',
          applied: removed,
          ignored: 1 - removed,
          epoch: Number(epochId),
          epochAgeMs,
          occupancy: [storeOccupancyOf(request.topic, occupancy)],
        };
      }
      case 'append': {
        const error = topicError(request.event.topic);
        if (error !== null) return rejected('bad-request', error);
        return new Promise((resolve, reject) => {
          if (this.appends.length === 0) setImmediate(() => this.flushAppends());
          this.appends.push({ event: request.event, resolve, reject });
        });
      }
      case 'read':
        return this.read(request);
      case 'remote-totals':
        return this.writeRemoteTotals(request);
      case 'occupancy':
        return this.readOccupancy(request);
    }
  }

  status(): 'up' | 'down' {
    return this.redis.status === 'ready' ? 'up' : 'down';
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') {
      await Promise.race([this.redis.quit().catch(() => 'gone'), new Promise((r) => setTimeout(r, 500))]);
    }
    this.redis.disconnect();
  }

  private async write(request: Extract<StoreRequest, { op: 'add' | 'renew' }>): Promise<StoreReply> {
    const topics = request.op === 'add' ? [request.topic] : request.topics;
    const problem = leaseWriteError(this.limits, request);
    if (problem !== null) return rejected('bad-request', problem);
    const counts =
      request.op === 'add' ? (request.count === undefined ? undefined : [request.count]) : request.counts;
    const leaseMs = Math.min(Math.floor(request.leaseMs), this.limits.leaseMsMax);
    const keys = [this.key('epoch'), this.key('topics'), this.key('seq'), this.key('heads')];
    for (const topic of topics)
      keys.push(this.topicKey(topic), this.occupancyKey('counts', topic), this.occupancyKey('remote', topic));
    const [full, applied, ignored, flat, epochId, epochAgeMs, headSeqs, occupancies] = (await this.run(
      'stadiumWrite',
    )(
      keys.length,
      ...keys,
      request.frontend,
      leaseMs,
      request.generation,
      this.limits.topicsMax,
      this.limits.frontendsPerTopicMax,
      this.epochTtlMs(),
      this.limits.tombstoneMs,
      this.limits.lapsedKeepMs,
      this.limits.remoteKeepMs,
      // Absent counts count none, as in the core's store.
      ...topics.flatMap((topic, i) => [topic, counts?.[i] ?? 0]),
    )) as [number, number, number, string[], string, number, number[], unknown[]];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const kind = flat[i] as 'granted' | 'renewed' | 'refused';
      const topic = flat[i + 1] as string;
      const change: LeaseChange =
        kind === 'refused'
          ? { change: kind, topic, frontend: request.frontend }
          : { change: kind, topic, frontend: request.frontend, expiresAtMs: Number(flat[i + 2]) };
      this.onLease(change);
    }
    // As the core's store: no heads at all while no topic has a history (best-effort replies stay small).
    const heads: TopicHead[] = headSeqs.map((seq, i) => ({ topic: topics[i]!, seq }));
    const withHeads = heads.length === 0 ? {} : { heads };
    if (full === 1 && applied === 0) {
      return {
        ...rejected('full', this.fullMessage()),
        epoch: Number(epochId),
        ...withHeads,
      };
    }
    const written = {
      op: 'written',
      applied,
      ignored,
      epoch: Number(epochId),
      epochAgeMs,
      occupancy: topics.map((topic, i) => storeOccupancyOf(topic, occupancies[i])),
      ...withHeads,
    } as const;
    if (request.op === 'add') return written;
    const regranted: string[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3)
      if (flat[i] === 'granted') regranted.push(flat[i + 1] as string);
    return { ...written, regranted };
  }

  private async writeRemoteTotals(
    request: Extract<StoreRequest, { op: 'remote-totals' }>,
  ): Promise<StoreReply> {
    const problem = remoteTotalsError(this.limits, request.dc, request.totals);
    if (problem !== null) return rejected('bad-request', problem);
    const keys = [this.key('epoch'), this.key('heads'), this.key('remotes')];
    const args: (string | number)[] = [
      this.epochTtlMs(),
      this.limits.topicsMax,
      this.limits.remoteDcsMax,
      this.limits.remoteKeepMs,
      request.dc,
    ];
    for (const { topic, count, epoch, ageMs, validMs } of request.totals) {
      keys.push(this.occupancyKey('remote', topic));
      args.push(topic, count, epoch, ageMs, validMs);
    }
    const [verdict, applied, ignored, epochId, epochAgeMs] = (await this.run('stadiumRemoteTotals')(
      keys.length,
      ...keys,
      ...args,
    )) as ['ok' | 'full', number, number, string, number];
    if (verdict === 'full') {
      return rejected('full', this.fullMessage());
    }
    return { op: 'written', applied, ignored, epoch: Number(epochId), epochAgeMs };
  }

  private async readOccupancy(request: Extract<StoreRequest, { op: 'occupancy' }>): Promise<StoreReply> {
    const problem = occupancyTopicsError(request.topics);
    if (problem !== null) return rejected('bad-request', problem);
    const keys = [this.key('epoch'), this.key('heads')];
    for (const topic of request.topics)
      keys.push(this.occupancyKey('counts', topic), this.occupancyKey('remote', topic));
    const [answers, epochId, epochAgeMs] = (await this.run('stadiumOccupancy')(
      keys.length,
      ...keys,
      this.epochTtlMs(),
      this.limits.remoteKeepMs,
    )) as [unknown[], string, number];
    const occupancy = request.topics.map((topic, i) => storeOccupancyOf(topic, answers[i]));
    return { op: 'occupancy', occupancy, epoch: Number(epochId), epochAgeMs };
  }

  private flushLookups(): void {
    const lookups = this.lookups;
    this.lookups = [];
    for (let at = 0; at < lookups.length; at += lookupsPerCallMax) {
      const chunk = lookups.slice(at, at + lookupsPerCallMax);
      const keys = [
        this.key('epoch'),
        this.key('topics'),
        this.key('heads'),
        ...chunk.map((l) => this.topicKey(l.topic)),
      ];
      this.run('stadiumLookup')(
        keys.length,
        ...keys,
        this.limits.tombstoneMs,
        this.epochTtlMs(),
        this.limits.lapsedKeepMs,
        ...chunk.map((l) => l.topic),
      ).then(
        (answer) => {
          const [replies, epochId, epochAgeMs] = answer as [[string[], string[], string[]][], string, number];
          const epoch = Number(epochId);
          chunk.forEach((lookup, i) => {
            const [live, lapsed, dead] = replies[i]!;
            for (const frontend of dead) this.onLease({ change: 'expired', topic: lookup.topic, frontend });
            lookup.resolve({ op: 'frontends', frontends: live, lapsed, epoch, epochAgeMs });
          });
        },
        (error: unknown) => {
          for (const lookup of chunk) lookup.reject(error);
        },
      );
    }
  }

  private flushAppends(): void {
    const appends = this.appends;
    this.appends = [];
    for (let at = 0; at < appends.length; at += appendsPerCallMax) {
      const chunk = appends.slice(at, at + appendsPerCallMax);
      const keys = [this.key('epoch'), this.key('topics'), this.key('heads')];
      const args: (string | number)[] = [
        this.epochTtlMs(),
        this.limits.tombstoneMs,
        this.limits.lapsedKeepMs,
        this.limits.historyEventsMax,
        this.limits.historyAgeMs,
        this.limits.historyIdsMax,
        this.limits.historyTopicsMax,
      ];
      for (const { event } of chunk) {
        const topic = event.topic;
        keys.push(this.topicKey(topic), this.historyKey('hist', topic), this.historyKey('ids', topic));
        keys.push(this.historyKey('idx', topic));
        // The event as its JSON text: whatever JSON value its payload is comes back the same.
        args.push(topic, event.id, JSON.stringify(event));
      }
      this.run('stadiumAppend')(keys.length, ...keys, ...args).then(
        (answer) => {
          const [answers, epochId, epochAgeMs] = answer as [AppendAnswer[], string, number];
          const epoch = Number(epochId);
          chunk.forEach(({ event, resolve }, i) => {
            const one = answers[i]!;
            if (one[0] === 'full') {
              const message = `store holds histories of ${one[1]} topics (historyTopicsMax ${this.limits.historyTopicsMax})`;
              resolve(rejected('full', message));
              return;
            }
            const [seq, duplicate, through, frontends, leaseLeftMs, lapsed, dead] = one;
            for (const frontend of dead) this.onLease({ change: 'expired', topic: event.topic, frontend });
            this.onHistory({ kind: 'appended', event, epoch, seq, duplicate: duplicate === 1 });
            if (through > 0)
              this.onHistory({ kind: 'trimmed', topic: event.topic, epoch, throughSeq: through });
            resolve({
              op: 'appended',
              seq,
              duplicate: duplicate === 1,
              frontends,
              leaseLeftMs,
              lapsed,
              epoch,
              epochAgeMs,
            });
          });
        },
        (error: unknown) => {
          for (const append of chunk) append.reject(error);
        },
      );
    }
  }

  private async read(request: Extract<StoreRequest, { op: 'read' }>): Promise<StoreReply> {
    const error = topicError(request.topic);
    if (error !== null) return rejected('bad-request', error);
    if (!Number.isSafeInteger(request.limit) || request.limit < 1)
      return rejected('bad-request', 'a read needs a positive whole limit');
    const afterError = historyAfterError(request.after);
    if (afterError !== null) return rejected('bad-request', afterError);
    const { topic } = request;
    const [afterSeq, firstSeq, headSeq, seqs, texts, through, epochId, epochAgeMs] = (await this.run(
      'stadiumRead',
    )(
      5,
      this.key('epoch'),
      this.key('heads'),
      this.historyKey('hist', topic),
      this.historyKey('ids', topic),
      this.historyKey('idx', topic),
      this.epochTtlMs(),
      this.limits.historyEventsMax,
      this.limits.historyAgeMs,
      this.limits.historyIdsMax,
      topic,
      'seq' in request.after ? 'seq' : 'id',
      'seq' in request.after ? request.after.seq : request.after.eventId,
      Math.min(request.limit, this.limits.readEventsMax),
    )) as [number, number, number, number[], string[], number, string, number];
    const epoch = Number(epochId);
    if (through > 0) this.onHistory({ kind: 'trimmed', topic, epoch, throughSeq: through });
    return {
      op: 'range',
      afterSeq: afterSeq < 0 ? null : afterSeq,
      firstSeq,
      headSeq,
      events: seqs.map((seq, i) => ({ seq, event: JSON.parse(texts[i]!) as Event })),
      epoch,
      epochAgeMs,
    };
  }

  /** The core's words for a write past topicsMax, frontendsPerTopicMax or remoteDcsMax. */
  private fullMessage(): string {
    return `store is full (topicsMax ${this.limits.topicsMax}, frontendsPerTopicMax ${this.limits.frontendsPerTopicMax})`;
  }

  private run(name: string): ScriptRunner {
    return (this.redis as unknown as Record<string, ScriptRunner>)[name]!.bind(this.redis);
  }

  /**
   * The epoch outlives every lease, tombstone and history written under it (so no key of an older
   * epoch is ever read in a newer one), and dies with an abandoned prefix.
   */
  private epochTtlMs(): number {
    return (
      2 *
      Math.max(
        this.limits.leaseMsMax + this.limits.lapsedKeepMs,
        this.limits.tombstoneMs,
        this.limits.historyAgeMs,
      )
    );
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  private topicKey(topic: string): string {
    return `${this.prefix}topic:${topic}`;
  }

  private historyKey(kind: 'hist' | 'ids' | 'idx', topic: string): string {
    return `${this.prefix}${kind}:${topic}`;
  }

  private occupancyKey(kind: 'counts' | 'remote', topic: string): string {
    return `${this.prefix}${kind}:${topic}`;
  }
}

function rejected(reason: 'full' | 'bad-request', message: string): StoreReply {
  return { op: 'rejected', reason, message };
}
