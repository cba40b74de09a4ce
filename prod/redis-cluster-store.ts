/**
 * The subscription store in a Redis Cluster (`--store redis-cluster://host:port,host:port`): the
 * contract of the core's store, checked by the same suite as the one-Redis store
 * (prod/redis-store.ts), with its keys spread over the cluster's slots. The rules are Lua scripts
 * (prod/redis-cluster-store-scripts.ts, where the key layout is); a cluster runs a script only over
 * keys of one slot, so every operation is split by slot:
 *
 * - The store's slot (tag `{P}`) holds the epoch and the two bounds that count topics (topicsMax,
 *   historyTopicsMax). Every topic's keys are tagged `{P<topic>}`, so one topic's leases, head and
 *   history share a slot and a script sees them together.
 * - A lease write, an append and a read first ask the store's slot (the epoch, the admissions), then
 *   each slot of their topics, one script call per slot; a lookup and a removal need nothing from
 *   the store's slot but the epoch, so they ask both at once. Calls asked in one event-loop
 *   iteration are pipelined per node by ioredis (auto-pipelining), so a dispatcher's batch of
 *   lookups or appends costs one script call per slot and one write per node, not one per event.
 * - Occupancy: a lease write's slot scripts store each topic's count and answer its occupancy, so a
 *   lease write costs the calls it cost before; `occupancy` asks the store's slot (the epoch) and
 *   each topic's slot at once; `remote-totals` asks the store's slot first (the epoch, admissions
 *   under topicsMax), then each topic's slot. One difference from the core's store, which stops a
 *   `remote-totals` write at its first total past a bound: a total refused at remoteDcsMax stops
 *   its own slot's later totals, but another slot's may already be written (the answer is still
 *   `rejected/full`).
 * - MOVED/ASK redirections and slot-map refreshes are ioredis' (`Cluster`); as with one Redis there
 *   is no offline queue and no retry of a failed command: the dispatcher's store timeout answers the
 *   publisher 503, and the frontends' renewals repair every registration once the node is back.
 *
 * The epoch, in a cluster. The one-Redis store's epoch means "Redis came back empty". In a cluster a
 * node restarts empty, or fails over to a replica that missed the last writes, one shard at a time,
 * so the epoch stays one value per store (every answer carries the same epoch, as the contract asks)
 * and changes when any shard is seen to have lost data:
 * - the store's slot lost its data: its epoch is made anew (larger, as in one Redis); every topic
 *   whose meta names an older epoch starts its history again on its next touch;
 * - a topic's slot lost its data: the store's slot remembers which topics have a history in this
 *   epoch, so a topic it knows but whose meta is gone is a loss; the store starts a new epoch (a
 *   bump) and the operation is asked once more under it. Leases lost with a shard are not a new
 *   epoch: the frontends' renewals grant them again (`regranted`), as after one Redis' restart.
 * - A topic's first append is on its way to the topic's slot while the store's slot already knows
 *   it: for `graceMs` (twice the command timeout) a missing meta is taken as not yet written, so a
 *   shard that loses a topic's history within seconds of its first append goes unnoticed.
 */
import { Cluster } from 'ioredis';
import {
  defaultStoreLimits,
  historyAfterError,
  leaseWriteError,
  occupancyTopicsError,
  remoteTotalsError,
  topicError,
} from '../core/index.ts';
import type {
  Event,
  StoreLimits,
  StoreOccupancy,
  StoreReply,
  StoreRequest,
  TopicHead,
} from '../core/index.ts';
import { keySlot } from './redis-cluster-slot.ts';
import {
  bumpScript,
  clusterAppendScript,
  clusterLookupScript,
  clusterOccupancyScript,
  clusterReadScript,
  clusterRemoteTotalsScript,
  clusterRemoveScript,
  clusterWriteScript,
  epochScript,
} from './redis-cluster-store-scripts.ts';
import { storeOccupancyOf } from './redis-store-scripts.ts';
import { parseRedisClusterUrl } from './redis-cluster-url.ts';
import type { HistoryListener, LeaseListener, SubscriptionStorePort } from './store-port.ts';

/** Lookups in one script call at most (a larger slot group is split). */
const lookupsPerCallMax = 256;
/** Appends in one script call at most: as the one-Redis store (prod/redis-store.ts). */
const appendsPerCallMax = 64;
/** How long a command may go unanswered before it fails (a node that stops answering). */
const commandTimeoutMs = 2_000;

interface PendingLookup {
  topic: string;
  resolve: (reply: StoreReply) => void;
  reject: (error: unknown) => void;
}

/** A script call waiting for the end of this event-loop iteration, to go in its node's pipeline. */
interface QueuedCall {
  name: string;
  slot: number;
  args: (string | number)[];
  resolve: (answer: unknown) => void;
  reject: (error: unknown) => void;
}

interface PendingAppend {
  event: Event;
  resolve: (reply: StoreReply) => void;
  reject: (error: unknown) => void;
}

type Trouble = 'lost' | 'retry';
type History = 'known' | 'fresh' | 'none';

/** The store slot's answer (see epochScript). */
interface EpochAnswer {
  epochId: string;
  epoch: number;
  epochAgeMs: number;
  anyHistory: boolean;
  /** Per asked topic, in order. */
  admissions: { admitted: boolean; history: History }[];
}

/** One event's answer from the append script (see clusterAppendScript). */
type AppendAnswer = [Trouble] | [number, number, number, string[], number[], string[], string[]];

export interface RedisClusterStoreOptions {
  /** `redis-cluster://host:port,host:port`: any reachable nodes; the rest are discovered. */
  url: string;
  /** Every key's hash tag starts with it: one prefix per datacenter (and per test run). */
  prefix: string;
  limits?: Partial<StoreLimits>;
  onLease?: LeaseListener;
  onHistory?: HistoryListener;
  /**
   * How long a topic's first append may take to reach its slot after the store's slot admitted it
   * (default twice the command timeout): a missing history younger than that is not a loss.
   */
  lossGraceMs?: number;
  /** Told when the cluster goes up or down (a node failing counts), with the error that took it down. */
  onStatus?: (status: 'up' | 'down', error?: Error) => void;
}

type ScriptRunner = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export class RedisClusterStore implements SubscriptionStorePort {
  private readonly cluster: Cluster;
  private readonly limits: StoreLimits;
  private readonly prefix: string;
  private readonly onLease: LeaseListener;
  private readonly onHistory: HistoryListener;
  private readonly onStatus: (status: 'up' | 'down', error?: Error) => void;
  private readonly lossGraceMs: number;
  private lastStatus: 'up' | 'down' | null = null;
  private lookups: PendingLookup[] = [];
  private appends: PendingAppend[] = [];
  /** Script calls of this event-loop iteration, sent after it as one pipeline per node. */
  private calls: QueuedCall[] = [];

  constructor(options: RedisClusterStoreOptions) {
    const url = parseRedisClusterUrl(options.url);
    if (typeof url === 'string') throw new Error(`bad Redis Cluster URL "${options.url}": ${url}`);
    if (/[{}]/.test(options.prefix))
      throw new Error(`a Redis Cluster key prefix holds no { or }: "${options.prefix}"`);
    this.prefix = options.prefix;
    this.limits = { ...defaultStoreLimits, ...options.limits };
    this.onLease = options.onLease ?? (() => {});
    this.onHistory = options.onHistory ?? (() => {});
    this.onStatus = options.onStatus ?? (() => {});
    this.lossGraceMs = options.lossGraceMs ?? 2 * commandTimeoutMs;
    this.cluster = new Cluster(url.nodes, {
      // Every command to the masters: a replica may lag, and the scripts write anyway.
      scaleReads: 'master',
      // Fail fast while the cluster is not ready: the dispatcher's timeout turns that into a 503.
      enableOfflineQueue: false,
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 1_000,
      slotsRefreshInterval: 5_000,
      clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
      redisOptions: {
        ...(url.username === undefined ? {} : { username: url.username }),
        ...(url.password === undefined ? {} : { password: url.password }),
        connectTimeout: 1_000,
        // A node that stops answering without closing must not let requests pile up unanswered.
        commandTimeout: commandTimeoutMs,
        maxRetriesPerRequest: 0,
      },
    });
    this.cluster.on('ready', () => this.report('up'));
    this.cluster.on('error', (error: Error) => this.report('down', error));
    this.cluster.on('node error', (error: Error) => this.report('down', error));
    this.cluster.on('close', () => this.report('down'));
    this.cluster.defineCommand('stadiumClusterEpoch', { lua: epochScript });
    this.cluster.defineCommand('stadiumClusterBump', { lua: bumpScript });
    this.cluster.defineCommand('stadiumClusterWrite', { lua: clusterWriteScript });
    this.cluster.defineCommand('stadiumClusterRemove', { lua: clusterRemoveScript });
    this.cluster.defineCommand('stadiumClusterLookup', { lua: clusterLookupScript });
    this.cluster.defineCommand('stadiumClusterAppend', { lua: clusterAppendScript });
    this.cluster.defineCommand('stadiumClusterRead', { lua: clusterReadScript });
    this.cluster.defineCommand('stadiumClusterOccupancy', { lua: clusterOccupancyScript });
    this.cluster.defineCommand('stadiumClusterRemoteTotals', { lua: clusterRemoteTotalsScript });
  }

  /** Resolves once the cluster's slots are known (or rejects after `timeoutMs`). */
  ready(timeoutMs = 5_000): Promise<void> {
    if (this.cluster.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.cluster.off('ready', onReady);
        reject(new Error(`Redis Cluster not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.cluster.once('ready', onReady);
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
      case 'renew': {
        const topics = request.op === 'add' ? [request.topic] : request.topics;
        const problem = leaseWriteError(this.limits, request);
        if (problem !== null) return rejected('bad-request', problem);
        const counts =
          request.op === 'add' ? (request.count === undefined ? undefined : [request.count]) : request.counts;
        const leaseMs = Math.min(Math.floor(request.leaseMs), this.limits.leaseMsMax);
        // Absent counts count none, as in the core's store.
        return this.write(
          request,
          topics,
          topics.map((_, i) => counts?.[i] ?? 0),
          leaseMs,
        );
      }
      case 'remove': {
        const error = topicError(request.topic);
        if (error !== null) return rejected('bad-request', error);
        const [epoch, [removed, occupancy]] = await Promise.all([
          this.epochOf([], 0),
          this.call(
            'stadiumClusterRemove',
            [
              this.topicKey(request.topic, 'leases'),
              this.topicKey(request.topic, 'counts'),
              this.topicKey(request.topic, 'remote'),
            ],
            request.frontend,
            request.generation,
            this.limits.tombstoneMs,
            this.limits.remoteKeepMs,
          ) as Promise<[number, unknown]>,
        ]);
        if (removed === 1)
          this.onLease({ change: 'removed', topic: request.topic, frontend: request.frontend });
        return {
          op: 'written',
          applied: removed,
          ignored: 1 - removed,
          epoch: epoch.epoch,
          epochAgeMs: epoch.epochAgeMs,
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
    return this.cluster.status === 'ready' && this.lastStatus !== 'down' ? 'up' : 'down';
  }

  async close(): Promise<void> {
    if (this.cluster.status === 'ready') {
      await Promise.race([this.cluster.quit().catch(() => 'gone'), new Promise((r) => setTimeout(r, 500))]);
    }
    this.cluster.disconnect();
  }

  private report(status: 'up' | 'down', error?: Error): void {
    if (this.lastStatus !== status) this.onStatus(status, error);
    this.lastStatus = status;
  }

  /** Ask the store's slot for the epoch and the admissions of `asked` (see epochScript). */
  private async epochOf(asked: ['w' | 'r' | 'a' | 'o', string][], keepMs: number): Promise<EpochAnswer> {
    const [epochId, epochAgeMs, any, flat] = (await this.call(
      'stadiumClusterEpoch',
      [this.storeKey('epoch'), this.storeKey('topics'), this.storeKey('histories'), this.storeKey('remotes')],
      this.epochTtlMs(),
      this.lossGraceMs,
      this.limits.topicsMax,
      keepMs,
      this.limits.historyTopicsMax,
      ...asked.flat(),
    )) as [string, number, number, string[]];
    // A node error marked the store down; an answer from the store's slot is the first sign it is back.
    if (this.lastStatus === 'down' && this.cluster.status === 'ready') this.report('up');
    const admissions = asked.map((_, i) => ({
      admitted: flat[2 * i] === 'ok',
      history: flat[2 * i + 1] as History,
    }));
    return { epochId, epoch: Number(epochId), epochAgeMs, anyHistory: any === 1, admissions };
  }

  /** A topic's slot lost its data under `epochId`: start a new epoch (once, whoever sees it first). */
  private async bump(epochId: string): Promise<void> {
    await this.call(
      'stadiumClusterBump',
      [this.storeKey('epoch'), this.storeKey('histories')],
      epochId,
      this.epochTtlMs(),
    );
  }

  /**
   * After a trouble (see headOf in the scripts): start a new epoch on a loss, so the caller can ask
   * once more; a second trouble for one request is an error (the dispatcher answers 503).
   */
  private async recover(troubles: Trouble[], epochId: string, attempt: number): Promise<void> {
    if (attempt >= 1) {
      throw new Error(
        `Redis Cluster store: a topic's slot answered ${troubles[0]} twice for one request (its data lost again, or the epoch changing meanwhile)`,
      );
    }
    if (troubles.includes('lost')) await this.bump(epochId);
  }

  private async write(
    request: Extract<StoreRequest, { op: 'add' | 'renew' }>,
    topics: readonly string[],
    counts: readonly number[],
    leaseMs: number,
    attempt = 0,
  ): Promise<StoreReply> {
    const epoch = await this.epochOf(
      topics.map((topic) => ['w', topic]),
      leaseMs + this.limits.lapsedKeepMs,
    );
    const results: { change: string; expiresAtMs: number; head: number; occupancy: StoreOccupancy }[] = [];
    await Promise.all(
      [
        ...groupBySlot(
          topics.map((topic, i) => ({ topic, i })),
          (t) => this.topicSlot(t.topic),
        ).values(),
      ].map(async (group) => {
        const keys = group.flatMap(({ topic }) => this.writeKeys(topic));
        const answers = (await this.call(
          'stadiumClusterWrite',
          keys,
          request.frontend,
          leaseMs,
          request.generation,
          this.limits.frontendsPerTopicMax,
          this.limits.tombstoneMs,
          this.limits.lapsedKeepMs,
          epoch.epochId,
          this.epochTtlMs(),
          this.limits.remoteKeepMs,
          ...group.flatMap(({ i }) => [
            epoch.admissions[i]!.admitted ? 'ok' : 'full',
            epoch.admissions[i]!.history,
            counts[i]!,
          ]),
        )) as [string, string, number, unknown][];
        group.forEach(({ topic, i }, j) => {
          const [change, expiresAtMs, head, occupancy] = answers[j]!;
          results[i] = {
            change,
            expiresAtMs: Number(expiresAtMs),
            head: Number(head),
            occupancy: storeOccupancyOf(topic, occupancy),
          };
        });
      }),
    );
    const troubles = results
      .filter((r) => r.change === 'lost' || r.change === 'retry')
      .map((r) => r.change as Trouble);
    if (troubles.length > 0) {
      await this.recover(troubles, epoch.epochId, attempt);
      return this.write(request, topics, counts, leaseMs, attempt + 1);
    }
    let full = false;
    let applied = 0;
    let ignored = 0;
    const regranted: string[] = [];
    results.forEach(({ change, expiresAtMs }, i) => {
      const topic = topics[i]!;
      if (change === 'ignored') ignored++;
      else if (change === 'refused') {
        full = true;
        this.onLease({ change: 'refused', topic, frontend: request.frontend });
      } else {
        applied++;
        if (change === 'granted') regranted.push(topic);
        this.onLease({
          change: change as 'granted' | 'renewed',
          topic,
          frontend: request.frontend,
          expiresAtMs,
        });
      }
    });
    // As the core's store: no heads at all while no topic has a history (best-effort replies stay small).
    const heads: TopicHead[] = epoch.anyHistory
      ? results.map(({ head }, i) => ({ topic: topics[i]!, seq: head }))
      : [];
    const withHeads = heads.length === 0 ? {} : { heads };
    if (full && applied === 0) {
      return {
        ...rejected('full', this.fullMessage()),
        epoch: epoch.epoch,
        ...withHeads,
      };
    }
    const written = {
      op: 'written',
      applied,
      ignored,
      epoch: epoch.epoch,
      epochAgeMs: epoch.epochAgeMs,
      occupancy: results.map((r) => r.occupancy),
      ...withHeads,
    } as const;
    return request.op === 'add' ? written : { ...written, regranted };
  }

  private async writeRemoteTotals(
    request: Extract<StoreRequest, { op: 'remote-totals' }>,
  ): Promise<StoreReply> {
    const problem = remoteTotalsError(this.limits, request.dc, request.totals);
    if (problem !== null) return rejected('bad-request', problem);
    const { totals } = request;
    // A topic admitted now stays counted as long as the longest-lived total of this write could.
    const keepMs = totals.reduce((longest, t) => Math.max(longest, t.validMs), 0) + this.limits.remoteKeepMs;
    const epoch = await this.epochOf(
      totals.map(({ topic }) => ['o', topic]),
      keepMs,
    );
    // As the core's store: the write stops at the first total refused for one topic too many.
    const refusedAt = epoch.admissions.findIndex((a) => !a.admitted);
    const admitted = (refusedAt < 0 ? totals : totals.slice(0, refusedAt)).map((total, i) => ({ total, i }));
    const verdicts: string[] = [];
    await Promise.all(
      [...groupBySlot(admitted, ({ total }) => this.topicSlot(total.topic)).values()].map(async (group) => {
        const answers = (await this.call(
          'stadiumClusterRemoteTotals',
          group.map(({ total }) => this.topicKey(total.topic, 'remote')),
          this.limits.remoteDcsMax,
          this.limits.remoteKeepMs,
          request.dc,
          ...group.flatMap(({ total }) => [total.count, total.epoch, total.ageMs, total.validMs]),
        )) as string[];
        group.forEach(({ i }, j) => (verdicts[i] = answers[j]!));
      }),
    );
    if (refusedAt >= 0 || verdicts.includes('full')) return rejected('full', this.fullMessage());
    const applied = verdicts.filter((v) => v === 'kept').length;
    return {
      op: 'written',
      applied,
      ignored: verdicts.length - applied,
      epoch: epoch.epoch,
      epochAgeMs: epoch.epochAgeMs,
    };
  }

  private async readOccupancy(request: Extract<StoreRequest, { op: 'occupancy' }>): Promise<StoreReply> {
    const problem = occupancyTopicsError(request.topics);
    if (problem !== null) return rejected('bad-request', problem);
    const occupancy: StoreOccupancy[] = [];
    const [epoch] = await Promise.all([
      this.epochOf([], 0),
      ...[
        ...groupBySlot(
          request.topics.map((topic, i) => ({ topic, i })),
          ({ topic }) => this.topicSlot(topic),
        ).values(),
      ].map(async (group) => {
        const answers = (await this.call(
          'stadiumClusterOccupancy',
          group.flatMap(({ topic }) => [this.topicKey(topic, 'counts'), this.topicKey(topic, 'remote')]),
          this.limits.remoteKeepMs,
        )) as unknown[];
        group.forEach(({ topic, i }, j) => (occupancy[i] = storeOccupancyOf(topic, answers[j])));
      }),
    ]);
    return { op: 'occupancy', occupancy, epoch: epoch.epoch, epochAgeMs: epoch.epochAgeMs };
  }

  private flushLookups(): void {
    const lookups = this.lookups;
    this.lookups = [];
    const epoch = this.epochOf([], 0);
    // Settled by the slot calls below; this keeps an early rejection from being unhandled.
    epoch.catch(() => {});
    for (const group of groupBySlot(lookups, (l) => this.topicSlot(l.topic)).values()) {
      for (let at = 0; at < group.length; at += lookupsPerCallMax) {
        const chunk = group.slice(at, at + lookupsPerCallMax);
        const answer = this.call(
          'stadiumClusterLookup',
          chunk.map((l) => this.topicKey(l.topic, 'leases')),
          this.limits.tombstoneMs,
          this.limits.lapsedKeepMs,
        ) as Promise<[string[], string[], string[]][]>;
        Promise.all([epoch, answer]).then(
          ([{ epoch: id, epochAgeMs }, replies]) => {
            chunk.forEach((lookup, i) => {
              const [live, lapsed, dead] = replies[i]!;
              for (const frontend of dead) this.onLease({ change: 'expired', topic: lookup.topic, frontend });
              lookup.resolve({ op: 'frontends', frontends: live, lapsed, epoch: id, epochAgeMs });
            });
          },
          (error: unknown) => {
            for (const lookup of chunk) lookup.reject(error);
          },
        );
      }
    }
  }

  private flushAppends(): void {
    const appends = this.appends;
    this.appends = [];
    this.appendAll(appends, 0).catch((error: unknown) => {
      for (const append of appends) append.reject(error);
    });
  }

  /** Appends, grouped by slot; those that met a lost slot asked once more under the new epoch. */
  private async appendAll(appends: PendingAppend[], attempt: number): Promise<void> {
    const topics = [...new Set(appends.map((a) => a.event.topic))];
    const epoch = await this.epochOf(
      topics.map((topic) => ['a', topic]),
      0,
    );
    const admissions = new Map(topics.map((topic, i) => [topic, epoch.admissions[i]!]));
    const admitted: PendingAppend[] = [];
    for (const append of appends) {
      if (admissions.get(append.event.topic)!.admitted) admitted.push(append);
      else {
        const message = `store holds histories of ${this.limits.historyTopicsMax} topics (historyTopicsMax ${this.limits.historyTopicsMax})`;
        append.resolve(rejected('full', message));
      }
    }
    const again: PendingAppend[] = [];
    const troubles: Trouble[] = [];
    const calls: Promise<void>[] = [];
    // Chunks of one slot are sent in order in this iteration: one node runs them in that order.
    for (const group of groupBySlot(admitted, (a) => this.topicSlot(a.event.topic)).values()) {
      for (let at = 0; at < group.length; at += appendsPerCallMax) {
        const chunk = group.slice(at, at + appendsPerCallMax);
        calls.push(
          this.appendChunk(chunk, epoch, (topic) => admissions.get(topic)!.history, again, troubles),
        );
      }
    }
    await Promise.all(calls);
    if (again.length > 0) {
      await this.recover(troubles, epoch.epochId, attempt);
      await this.appendAll(again, attempt + 1);
    }
  }

  private async appendChunk(
    chunk: PendingAppend[],
    epoch: EpochAnswer,
    historyOf: (topic: string) => History,
    again: PendingAppend[],
    troubles: Trouble[],
  ): Promise<void> {
    const topics = [...new Set(chunk.map((a) => a.event.topic))];
    const index = new Map(topics.map((topic, i) => [topic, i + 1]));
    const keys = topics.flatMap((topic) => this.topicKeys(topic));
    const args: (string | number)[] = [
      epoch.epochId,
      this.epochTtlMs(),
      this.limits.tombstoneMs,
      this.limits.lapsedKeepMs,
      this.limits.historyEventsMax,
      this.limits.historyAgeMs,
      this.limits.historyIdsMax,
      ...topics.map(historyOf),
    ];
    for (const { event } of chunk) args.push(index.get(event.topic)!, event.id, JSON.stringify(event));
    let answers: AppendAnswer[];
    try {
      answers = (await this.call('stadiumClusterAppend', keys, ...args)) as AppendAnswer[];
    } catch (error) {
      for (const append of chunk) append.reject(error);
      return;
    }
    chunk.forEach((append, i) => {
      const { event, resolve } = append;
      const one = answers[i]!;
      if (one.length === 1) {
        again.push(append);
        troubles.push(one[0]);
        return;
      }
      const [seq, duplicate, through, frontends, leaseLeftMs, lapsed, dead] = one;
      for (const frontend of dead) this.onLease({ change: 'expired', topic: event.topic, frontend });
      this.onHistory({ kind: 'appended', event, epoch: epoch.epoch, seq, duplicate: duplicate === 1 });
      if (through > 0)
        this.onHistory({ kind: 'trimmed', topic: event.topic, epoch: epoch.epoch, throughSeq: through });
      resolve({
        op: 'appended',
        seq,
        duplicate: duplicate === 1,
        frontends,
        leaseLeftMs,
        lapsed,
        epoch: epoch.epoch,
        epochAgeMs: epoch.epochAgeMs,
      });
    });
  }

  private async read(request: Extract<StoreRequest, { op: 'read' }>, attempt = 0): Promise<StoreReply> {
    const error = topicError(request.topic);
    if (error !== null) return rejected('bad-request', error);
    if (!Number.isSafeInteger(request.limit) || request.limit < 1)
      return rejected('bad-request', 'a read needs a positive whole limit');
    const afterError = historyAfterError(request.after);
    if (afterError !== null) return rejected('bad-request', afterError);
    const { topic } = request;
    const epoch = await this.epochOf([['r', topic]], 0);
    const answer = (await this.call(
      'stadiumClusterRead',
      [
        this.topicKey(topic, 'meta'),
        this.topicKey(topic, 'hist'),
        this.topicKey(topic, 'ids'),
        this.topicKey(topic, 'idx'),
      ],
      epoch.epochId,
      epoch.admissions[0]!.history,
      this.epochTtlMs(),
      this.limits.historyEventsMax,
      this.limits.historyAgeMs,
      this.limits.historyIdsMax,
      'seq' in request.after ? 'seq' : 'id',
      'seq' in request.after ? request.after.seq : request.after.eventId,
      Math.min(request.limit, this.limits.readEventsMax),
    )) as [Trouble] | ['ok', number, number, number, number[], string[], number];
    if (answer.length === 1) {
      await this.recover([answer[0]], epoch.epochId, attempt);
      return this.read(request, attempt + 1);
    }
    const [, afterSeq, firstSeq, headSeq, seqs, texts, through] = answer;
    if (through > 0) this.onHistory({ kind: 'trimmed', topic, epoch: epoch.epoch, throughSeq: through });
    return {
      op: 'range',
      afterSeq: afterSeq < 0 ? null : afterSeq,
      firstSeq,
      headSeq,
      events: seqs.map((seq, i) => ({ seq, event: JSON.parse(texts[i]!) as Event })),
      epoch: epoch.epoch,
      epochAgeMs: epoch.epochAgeMs,
    };
  }

  /**
   * Run the script `name` over `keys` (all of one slot) after this event-loop iteration, in one
   * pipeline with the other calls bound for the same node. (ioredis' own auto-pipelining routes a
   * script call by its first argument, the key count, not by its first key.)
   */
  private call(name: string, keys: readonly string[], ...args: (string | number)[]): Promise<unknown> {
    const slot = keySlot(keys[0]!);
    return new Promise((resolve, reject) => {
      if (this.calls.length === 0) setImmediate(() => this.flushCalls());
      this.calls.push({ name, slot, args: [keys.length, ...keys, ...args], resolve, reject });
    });
  }

  private flushCalls(): void {
    const calls = this.calls;
    this.calls = [];
    const byNode = new Map<string, QueuedCall[]>();
    for (const call of calls) {
      const node = this.cluster.slots[call.slot]?.join(',') ?? 'unknown';
      const group = byNode.get(node);
      if (group === undefined) byNode.set(node, [call]);
      else group.push(call);
    }
    for (const group of byNode.values()) {
      const pipeline = this.cluster.pipeline() as unknown as Record<string, ScriptRunner> & {
        exec(): Promise<[Error | null, unknown][] | null>;
      };
      for (const call of group) void pipeline[call.name]!(...(call.args as [number, ...(string | number)[]]));
      pipeline.exec().then(
        (results) => {
          group.forEach((call, i) => {
            const [error, answer] = results?.[i] ?? [
              new Error('Redis Cluster pipeline answered nothing'),
              null,
            ];
            if (error === null) call.resolve(answer);
            else call.reject(error);
          });
        },
        (error: unknown) => {
          for (const call of group) call.reject(error);
        },
      );
    }
  }

  /** The core's words for a write past topicsMax, frontendsPerTopicMax or remoteDcsMax. */
  private fullMessage(): string {
    return `store is full (topicsMax ${this.limits.topicsMax}, frontendsPerTopicMax ${this.limits.frontendsPerTopicMax})`;
  }

  /** As the one-Redis store's: outlives every lease, tombstone and history written under it. */
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

  /** A key of the store's own slot. */
  private storeKey(name: 'epoch' | 'topics' | 'histories' | 'remotes'): string {
    return `{${this.prefix}}${name}`;
  }

  /** A key of `topic`'s slot. */
  private topicKey(
    topic: string,
    name: 'leases' | 'meta' | 'hist' | 'ids' | 'idx' | 'counts' | 'remote',
  ): string {
    return `{${this.prefix}${topic}}${name}`;
  }

  /** Every key of `topic`'s history side, in the order the append script takes them. */
  private topicKeys(topic: string): string[] {
    return (['leases', 'meta', 'hist', 'ids', 'idx'] as const).map((name) => this.topicKey(topic, name));
  }

  /** The keys of `topic` the write script takes, in its order: the append script's, then occupancy's. */
  private writeKeys(topic: string): string[] {
    return [...this.topicKeys(topic), this.topicKey(topic, 'counts'), this.topicKey(topic, 'remote')];
  }

  private topicSlot(topic: string): number {
    return keySlot(this.topicKey(topic, 'leases'));
  }
}

/** `items` by slot, each group in the order given. */
function groupBySlot<T>(items: readonly T[], slotOf: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const slot = slotOf(item);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [item]);
    else group.push(item);
  }
  return groups;
}

function rejected(reason: 'full' | 'bad-request', message: string): StoreReply {
  return { op: 'rejected', reason, message };
}
