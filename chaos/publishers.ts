/**
 * A chaos run's publishers: one per datacenter, over real HTTP, following the simulator's rules
 * (sim/world/publishers.ts) on the wall clock.
 *
 * - The plan is the simulator's: each publish at the moment, on the topic and from the datacenter
 *   of the simulated run's publish of the same scenario and seed (its first `published` fact).
 *   The origin's publisher sends each to a live dispatcher there, in turn (a balancer with a health
 *   check: the harness knows which it killed or froze), or counts it unroutable when none is.
 * - Every answer is an `answered` fact. Best-effort: each publish is sent once. Reliable: it
 *   carries the publisher's own id (`<dc>-<n>`) and is sent again, with the same id, after a
 *   refusal for the weather (after its `retryAfterMs`) or when unanswered for the simulator's
 *   `publishRetryMs`, at most `publishAttemptsMax` times, never once publishing has stopped.
 * - Payloads are the simulator's: `{"like":n,"topic":..,"pad":"xx.."}` of `payloadBytes`.
 */
import type { DcId, PublishErrorCode, PublishWarning, Topic } from '../core/index.ts';
import { publishAttemptsMax, publishRetryMs } from '../sim/index.ts';
import type { Fact, Scenario } from '../sim/index.ts';
import { RunTimers } from './run-timers.ts';

export interface PublisherCounts {
  attempted: number;
  unroutable: number;
  answered: number;
  warned: number;
  refused: number;
  retried: number;
  abandoned: number;
}

/** One publish of the plan: when, on which topic, from which datacenter. */
export interface PlannedPublish {
  atMs: number;
  topic: Topic;
  dc: DcId;
}

export interface PublisherOptions {
  scenario: Scenario;
  /** What to publish and when: the simulator's publishes of the same scenario and seed. */
  plan: readonly PlannedPublish[];
  /** The datacenter's live dispatchers' URLs, as a balancer with a health check sees them. */
  liveDispatchers: (dc: DcId) => readonly string[];
  nowUs: () => number;
  emit: (fact: Fact) => void;
}

/** Refusals for the weather: sending again may succeed. */
const retryable: ReadonlySet<string> = new Set(['store-unavailable', 'overloaded']);

interface Answer {
  ok: boolean;
  id?: string;
  warning?: PublishWarning['code'];
  code?: PublishErrorCode;
  retryAfterMs?: number;
}

export class ChaosPublishers {
  readonly counts: PublisherCounts = {
    attempted: 0,
    unroutable: 0,
    answered: 0,
    warned: 0,
    refused: 0,
    retried: 0,
    abandoned: 0,
  };
  private readonly timers = new RunTimers();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly turn = new Map<DcId, number>();
  private readonly retryMs: number;

  constructor(private readonly options: PublisherOptions) {
    this.retryMs = publishRetryMs(options.scenario.roles);
  }

  /** Schedule the planned publishes; `startedAtMs` is the run moment now. */
  start(startedAtMs: number): void {
    this.options.plan.forEach((publish, i) =>
      this.timers.later(publish.atMs - startedAtMs, () => this.publish(i + 1, publish.topic, publish.dc)),
    );
  }

  /** Stop publishing and retrying; resolves when every request in flight has its answer or gave up. */
  async stop(): Promise<void> {
    this.timers.stop();
    await Promise.all([...this.inFlight]);
  }

  private publish(n: number, topic: Topic, dc: DcId): void {
    this.counts.attempted++;
    const body = `{"like":${n},"topic":"${topic}","pad":"`;
    const padding = 'x'.repeat(Math.max(0, this.options.scenario.workload.payloadBytes - body.length - 2));
    const payload = `${body}${padding}"}`;
    const reliable = this.options.scenario.mode === 'reliable';
    this.attempt({ n, topic, dc, payload, id: reliable ? `${dc}-${n}` : null, attempts: 0, settled: false });
  }

  private attempt(publish: Publish): void {
    if (this.timers.stopped) return this.abandon(publish);
    const live = this.options.liveDispatchers(publish.dc);
    if (live.length === 0) {
      this.counts.unroutable++;
      return publish.id === null ? undefined : this.abandon(publish);
    }
    const turn = this.turn.get(publish.dc) ?? 0;
    this.turn.set(publish.dc, turn + 1);
    const url = live[turn % live.length] as string;
    publish.attempts++;
    const attempt = publish.attempts;
    if (attempt > 1) this.counts.retried++;
    const reliable = publish.id !== null;
    // Reliable: unanswered for the simulator's wait, the publish goes again (the answer may still come).
    if (reliable)
      this.timers.later(this.retryMs, () => {
        if (!publish.settled && publish.attempts === attempt) this.retry(publish);
      });
    const request = this.send(url, publish).then((answer) => this.answered(publish, attempt, answer));
    this.inFlight.add(request);
    void request.finally(() => this.inFlight.delete(request));
  }

  private retry(publish: Publish): void {
    if (publish.attempts >= publishAttemptsMax) return this.abandon(publish);
    this.attempt(publish);
  }

  private abandon(publish: Publish): void {
    if (publish.settled || publish.id === null) return;
    publish.settled = true;
    this.counts.abandoned++;
  }

  private answered(publish: Publish, attempt: number, answer: Answer | null): void {
    // No answer at all (the dispatcher died, froze past the timeout, or the connection failed).
    if (answer === null) {
      if (publish.id !== null && !publish.settled && publish.attempts === attempt && !this.timers.stopped)
        this.timers.later(0, () => this.retry(publish));
      return;
    }
    const t = this.options.nowUs();
    const dc = publish.dc;
    if (answer.ok) {
      if (answer.warning === undefined) this.counts.answered++;
      else this.counts.warned++;
      this.options.emit({
        kind: 'answered',
        t,
        dc,
        ok: true,
        e: answer.id ?? publish.id ?? '',
        ...(answer.warning === undefined ? {} : { warning: answer.warning }),
      });
      publish.settled = true;
      return;
    }
    this.counts.refused++;
    const code = answer.code ?? 'store-unavailable';
    this.options.emit({
      kind: 'answered',
      t,
      dc,
      ok: false,
      ...(publish.id === null ? {} : { e: publish.id }),
      code,
    });
    if (publish.id === null || publish.settled) return;
    if (!retryable.has(code)) return this.abandon(publish);
    if (publish.attempts === attempt) this.timers.later(answer.retryAfterMs ?? 0, () => this.retry(publish));
  }

  private async send(url: string, publish: Publish): Promise<Answer | null> {
    const body = JSON.stringify({
      topic: publish.topic,
      payload: publish.payload,
      ...(publish.id === null ? {} : { id: publish.id }),
    });
    try {
      const response = await fetch(`${url}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(Math.max(2_000, this.retryMs * publishAttemptsMax)),
      });
      const json = (await response.json()) as Record<string, unknown>;
      if (response.ok) {
        const warning = (json.warning as { code?: PublishWarning['code'] } | undefined)?.code;
        return { ok: true, id: String(json.id), ...(warning === undefined ? {} : { warning }) };
      }
      const error = (typeof json.error === 'object' && json.error !== null ? json.error : json) as Record<
        string,
        unknown
      >;
      return {
        ok: false,
        code: String(error.code ?? 'store-unavailable') as PublishErrorCode,
        ...(typeof error.retryAfterMs === 'number' ? { retryAfterMs: error.retryAfterMs } : {}),
      };
    } catch {
      return null;
    }
  }
}

interface Publish {
  n: number;
  topic: Topic;
  dc: DcId;
  payload: string;
  /** Reliable: the publisher's own id; best-effort: null (the dispatcher assigns one). */
  id: string | null;
  attempts: number;
  settled: boolean;
}
