/**
 * The loss-window measurement's publishing: probe publishes until every viewer is registered, then
 * one publish every `publishEveryMs`, alternating between the dispatchers, each with its own
 * publisher-chosen id and a record of its send time, status, whole reply body and answer time. A
 * slow answer does not hold the next publish back (as it would not for many independent
 * publishers); past `inFlightMax` unanswered publishes a tick is skipped. Once publishing stops,
 * `drain` waits for the deliveries still under way.
 */
import type { ClusterNode } from './cluster.ts';
import type { PublishRecord } from './loss-report.ts';
import type { LossWindowOptions } from './loss-window-measure.ts';
import type { RawViewer } from './raw-viewers.ts';
import { sleep, waitFor } from './wait-for.ts';

/** Probe publishes until every viewer has received one; returns the probes (id -> payload). */
export async function untilRegistered(
  dispatchers: string[],
  topic: string,
  viewers: RawViewer[],
  run: string,
): Promise<Map<string, string>> {
  const probes = new Map<string, string>();
  await waitFor(
    async () => {
      const id = `probe-${run}-${probes.size}`;
      probes.set(id, 'probe');
      await publishOnce(dispatchers[probes.size % dispatchers.length]!, { topic, payload: 'probe', id });
      await sleep(50);
      return viewers.every((v) => [...v.received.keys()].some((received) => probes.has(received)));
    },
    'every viewer to receive a probe publish',
    15_000,
    0,
  );
  return probes;
}

async function publishOnce(
  dispatcher: string,
  event: { topic: string; payload: string; id: string },
): Promise<{ status: number; body: unknown; error: string | null }> {
  try {
    const response = await fetch(`${dispatcher}/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Kept as text: the report shows what came back.
    }
    return { status: response.status, body, error: null };
  } catch (error) {
    return { status: 0, body: null, error: error instanceof Error ? error.message : String(error) };
  }
}

export interface Publisher {
  /** Every record so far, answered or not (a live view: records fill in as answers come). */
  records(): readonly PublishRecord[];
  /** Stop sending; resolves with every record once the last answer is in. */
  stop(): Promise<PublishRecord[]>;
}

export function startPublishing(
  options: Pick<LossWindowOptions, 'publishEveryMs' | 'inFlightMax'>,
  dispatchers: ClusterNode[],
  topic: string,
  run: string,
): Publisher {
  const records: PublishRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  const tick = (): void => {
    if (inFlight.size >= options.inFlightMax) return;
    const n = seq++;
    const record: PublishRecord = {
      seq: n,
      id: `lw-${run}-${String(n).padStart(6, '0')}`,
      payload: `like ${n}`,
      dispatcher: dispatchers[n % dispatchers.length]!.url,
      sentAtMs: Date.now(),
      answeredAtMs: null,
      status: 0,
      body: null,
      error: null,
    };
    records.push(record);
    const sent = publishOnce(record.dispatcher, { topic, payload: record.payload, id: record.id }).then(
      (answer) => {
        record.answeredAtMs = answer.status === 0 ? null : Date.now();
        record.status = answer.status;
        record.body = answer.body;
        record.error = answer.error;
      },
    );
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  };
  const timer = setInterval(tick, options.publishEveryMs);
  let stopped: Promise<PublishRecord[]> | null = null;
  return {
    records: () => records,
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await Promise.all(inFlight);
        return records;
      })();
      return stopped;
    },
  };
}

/** Until every publish answered 200 reached every connected viewer, or nothing moved for a second. */
export async function drain(
  publishes: PublishRecord[],
  viewers: RawViewer[],
  drainMsMax: number,
): Promise<void> {
  const deadline = Date.now() + drainMsMax;
  const acked = publishes.filter((p) => p.status === 200).map((p) => p.id);
  const total = (): number => viewers.reduce((sum, v) => sum + v.received.size, 0);
  let last = total();
  let movedAtMs = Date.now();
  while (Date.now() < deadline && Date.now() - movedAtMs < 1_000) {
    const connected = viewers.filter((v) => v.dropped() === null);
    if (acked.every((id) => connected.every((v) => v.received.has(id)))) return;
    await sleep(50);
    const now = total();
    if (now !== last) {
      last = now;
      movedAtMs = Date.now();
    }
  }
}
