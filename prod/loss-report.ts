/**
 * The judgement of a loss-window measurement (prod/loss-window.ts), as a pure function of what the
 * publisher and the viewers recorded, so it can be checked on planted data before it is trusted.
 *
 * Rules
 * - Only viewers whose connection held from before the first measured publish to the end count
 *   ("steady"); a viewer whose connection dropped is excluded and counted apart, because a dropped
 *   viewer's misses are explained by its own drop.
 * - A publish is *lost* when it was answered 200 and some steady viewer never received its id.
 *   Whether its 200 reply carried a `warning` field is counted apart: a publish the dispatcher
 *   flagged as possibly unseen was not lost silently.
 * - Integrity is judged over every steady or dropped viewer: each id received at most once, and
 *   every received id was published (probes included) with exactly the payload received.
 * - Times in the report are milliseconds relative to the fault's start.
 */
import type { Receipt, ViewerTransport } from './raw-viewers.ts';

export interface PublishRecord {
  seq: number;
  id: string;
  payload: string;
  /** The dispatcher's base URL. */
  dispatcher: string;
  sentAtMs: number;
  /** null when no HTTP answer came (refused connection, timeout). */
  answeredAtMs: number | null;
  /** The HTTP status, or 0 without an answer. */
  status: number;
  /** The whole reply body: parsed JSON, or the raw text when it was not JSON. */
  body: unknown;
  /** Why there was no answer. */
  error: string | null;
}

export interface ViewerOutcome {
  name: string;
  frontend: string;
  transport: ViewerTransport;
  received: ReadonlyMap<string, Receipt>;
  duplicates: readonly string[];
  dropped: { atMs: number; reason: string } | null;
}

/** A named stretch of the run, e.g. "frozen, lease expired"; absolute times. */
export interface Phase {
  name: string;
  fromMs: number;
}

export interface LossInput {
  publishes: readonly PublishRecord[];
  /** Events published outside the measurement (registration probes): id -> payload. */
  probes: ReadonlyMap<string, string>;
  viewers: readonly ViewerOutcome[];
  faultAtMs: number;
  healedAtMs: number;
  /** In time order; a publish belongs to the last phase that began at or before its send. */
  phases: readonly Phase[];
  /** Publishes sent this long after the heal must reach every steady viewer (`lostAfterSettle`). */
  settleMs: number;
}

export interface LossReport {
  publishes: {
    total: number;
    ok: number;
    okWithWarning: number;
    status503: number;
    /** Status -> count, for every status other than 200 and 503 (0: no HTTP answer). */
    otherStatuses: Record<string, number>;
  };
  lost: {
    /** Answered 200, and missed by at least one steady viewer. */
    count: number;
    withWarning: number;
    withoutWarning: number;
    /** Missed by every steady viewer. */
    missedByAll: number;
    /** Send times of the first and last lost publish, relative to the fault; null when none. */
    firstSentMs: number | null;
    lastSentMs: number | null;
    spanMs: number;
    byPhase: Record<string, number>;
    /** Frontend URL -> lost publishes that some steady viewer of it missed. */
    byFrontend: Record<string, number>;
    /** Lost publishes sent more than `settleMs` after the heal. */
    afterSettle: number;
    /** The first lost ids, for looking them up in the servers' logs. */
    sampleIds: string[];
  };
  /** Publishes sent between fault and heal that some viewer received only after the heal. */
  deliveredAfterHeal: number;
  viewers: { steady: number; dropped: number; droppedNames: string[] };
  integrity: {
    duplicates: number;
    /** Received ids nobody published. */
    unpublished: number;
    /** Received with a payload other than the one published under that id. */
    altered: number;
  };
}

const sampleIdsMax = 20;

export function lossReport(input: LossInput): LossReport {
  const relative = (atMs: number): number => atMs - input.faultAtMs;
  const steady = input.viewers.filter((v) => v.dropped === null);
  const dropped = input.viewers.filter((v) => v.dropped !== null);

  const otherStatuses: Record<string, number> = {};
  let ok = 0;
  let okWithWarning = 0;
  let status503 = 0;
  for (const record of input.publishes) {
    if (record.status === 200) {
      ok++;
      if (hasWarning(record.body)) okWithWarning++;
    } else if (record.status === 503) {
      status503++;
    } else {
      otherStatuses[String(record.status)] = (otherStatuses[String(record.status)] ?? 0) + 1;
    }
  }

  const byPhase: Record<string, number> = {};
  const byFrontend: Record<string, number> = {};
  const lost: PublishRecord[] = [];
  let missedByAll = 0;
  let deliveredAfterHeal = 0;
  for (const record of input.publishes) {
    if (
      record.sentAtMs >= input.faultAtMs &&
      record.sentAtMs < input.healedAtMs &&
      input.viewers.some((v) => (v.received.get(record.id)?.atMs ?? -Infinity) >= input.healedAtMs)
    ) {
      deliveredAfterHeal++;
    }
    if (record.status !== 200) continue;
    const missing = steady.filter((v) => !v.received.has(record.id));
    if (missing.length === 0) continue;
    lost.push(record);
    if (missing.length === steady.length) missedByAll++;
    const phase = phaseOf(input.phases, record.sentAtMs);
    byPhase[phase] = (byPhase[phase] ?? 0) + 1;
    for (const frontend of new Set(missing.map((v) => v.frontend))) {
      byFrontend[frontend] = (byFrontend[frontend] ?? 0) + 1;
    }
  }
  const withWarning = lost.filter((r) => hasWarning(r.body)).length;
  const sentTimes = lost.map((r) => r.sentAtMs);
  const firstSentMs = sentTimes.length > 0 ? relative(Math.min(...sentTimes)) : null;
  const lastSentMs = sentTimes.length > 0 ? relative(Math.max(...sentTimes)) : null;

  const published = new Map<string, string>(input.probes);
  for (const record of input.publishes) published.set(record.id, record.payload);
  let duplicates = 0;
  let unpublished = 0;
  let altered = 0;
  for (const viewer of input.viewers) {
    duplicates += viewer.duplicates.length;
    for (const [id, receipt] of viewer.received) {
      const payload = published.get(id);
      if (payload === undefined) unpublished++;
      else if (payload !== receipt.payload) altered++;
    }
  }

  return {
    publishes: { total: input.publishes.length, ok, okWithWarning, status503, otherStatuses },
    lost: {
      count: lost.length,
      withWarning,
      withoutWarning: lost.length - withWarning,
      missedByAll,
      firstSentMs,
      lastSentMs,
      spanMs: firstSentMs === null || lastSentMs === null ? 0 : lastSentMs - firstSentMs,
      byPhase,
      byFrontend,
      afterSettle: lost.filter((r) => r.sentAtMs > input.healedAtMs + input.settleMs).length,
      sampleIds: lost.slice(0, sampleIdsMax).map((r) => r.id),
    },
    deliveredAfterHeal,
    viewers: { steady: steady.length, dropped: dropped.length, droppedNames: dropped.map((v) => v.name) },
    integrity: { duplicates, unpublished, altered },
  };
}

/** Whether a publish reply says the event may not have reached every viewer. */
export function hasWarning(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'warning' in body;
}

function phaseOf(phases: readonly Phase[], atMs: number): string {
  let name = 'before the fault';
  for (const phase of phases) if (phase.fromMs <= atMs) name = phase.name;
  return name;
}
