// Goal: the loss-window judgement counts exactly the acknowledged publishes that a steady viewer
// missed, and catches duplicates, invented events and altered payloads, before it judges real runs.
// Method: hand-made publish records and viewer receipts, each planting one fault the report must name.
import { describe, expect, it } from 'vitest';
import { lossReport } from './loss-report.ts';
import type { LossInput, PublishRecord, ViewerOutcome } from './loss-report.ts';

const faultAtMs = 10_000;
const healedAtMs = 11_000;

function publish(
  seq: number,
  sentAtMs: number,
  status = 200,
  body: unknown = { id: `e${seq}` },
): PublishRecord {
  return {
    seq,
    id: `e${seq}`,
    payload: `like ${seq}`,
    dispatcher: 'http://d1',
    sentAtMs,
    answeredAtMs: status === 0 ? null : sentAtMs + 2,
    status,
    body,
    error: status === 0 ? 'fetch failed' : null,
  };
}

function viewer(
  name: string,
  frontend: string,
  events: [id: string, payload: string, atMs: number][],
  more: Partial<Pick<ViewerOutcome, 'duplicates' | 'dropped'>> = {},
): ViewerOutcome {
  return {
    name,
    frontend,
    transport: 'sse',
    received: new Map(events.map(([id, payload, atMs]) => [id, { payload, atMs }])),
    duplicates: more.duplicates ?? [],
    dropped: more.dropped ?? null,
  };
}

/** Every publish delivered to `v` at send time + 5 ms, except the ids in `missing`. */
function receiptsOf(publishes: PublishRecord[], missing: string[] = []): [string, string, number][] {
  return publishes.filter((p) => !missing.includes(p.id)).map((p) => [p.id, p.payload, p.sentAtMs + 5]);
}

function input(publishes: PublishRecord[], viewers: ViewerOutcome[]): LossInput {
  return {
    publishes,
    probes: new Map([['probe-0', 'probe']]),
    viewers,
    faultAtMs,
    healedAtMs,
    phases: [
      { name: 'down', fromMs: faultAtMs },
      { name: 'healed', fromMs: healedAtMs },
    ],
    settleMs: 1_000,
  };
}

describe('loss report', () => {
  const publishes = [
    publish(1, 9_000),
    publish(2, 10_100),
    publish(3, 10_200, 200, { id: 'e3', warning: 'registrations-rebuilding' }),
    publish(4, 10_300, 503, { error: 'store unavailable', code: 'store-unavailable' }),
    publish(5, 10_400, 0, null),
    publish(6, 11_500),
    publish(7, 12_500),
  ];

  it('a fault-free run: every acknowledged publish reached every viewer, nothing lost', () => {
    const report = lossReport(
      input(publishes, [
        viewer('a', 'http://f1', receiptsOf(publishes)),
        viewer('b', 'http://f2', receiptsOf(publishes)),
      ]),
    );
    expect(report.lost).toMatchObject({
      count: 0,
      firstSentMs: null,
      lastSentMs: null,
      spanMs: 0,
      afterSettle: 0,
    });
    expect(report.publishes).toEqual({
      total: 7,
      ok: 5,
      okWithWarning: 1,
      status503: 1,
      otherStatuses: { '0': 1 },
    });
    expect(report.integrity).toEqual({ duplicates: 0, unpublished: 0, altered: 0 });
    expect(report.viewers).toEqual({ steady: 2, dropped: 0, droppedNames: [] });
  });

  it('acknowledged publishes a steady viewer missed are lost: counted, timed from the fault, sorted by phase and frontend', () => {
    const report = lossReport(
      input(publishes, [
        viewer('a', 'http://f1', receiptsOf(publishes, ['e2', 'e3', 'e7'])),
        viewer('b', 'http://f2', receiptsOf(publishes, ['e2'])),
      ]),
    );
    expect(report.lost).toEqual({
      count: 3,
      withWarning: 1,
      withoutWarning: 2,
      missedByAll: 1,
      firstSentMs: 100,
      lastSentMs: 2_500,
      spanMs: 2_400,
      byPhase: { down: 2, healed: 1 },
      byFrontend: { 'http://f1': 3, 'http://f2': 1 },
      afterSettle: 1,
      sampleIds: ['e2', 'e3', 'e7'],
    });
  });

  it('publishes not answered 200 are never counted as lost, whoever missed them', () => {
    const report = lossReport(
      input(publishes, [viewer('a', 'http://f1', receiptsOf(publishes, ['e4', 'e5']))]),
    );
    expect(report.lost.count).toBe(0);
  });

  it('a viewer whose connection dropped is excluded from the losses and counted apart', () => {
    const report = lossReport(
      input(publishes, [
        viewer('a', 'http://f1', receiptsOf(publishes)),
        viewer('gone', 'http://f2', receiptsOf(publishes.slice(0, 2)), {
          dropped: { atMs: 10_150, reason: 'stream closed' },
        }),
      ]),
    );
    expect(report.lost.count).toBe(0);
    expect(report.viewers).toEqual({ steady: 1, dropped: 1, droppedNames: ['gone'] });
  });

  it('planted: a duplicate, an event nobody published and an altered payload are each caught', () => {
    const events = receiptsOf(publishes);
    events[0] = ['e1', 'like one', 9_005];
    events.push(['probe-0', 'probe', 8_000], ['forged-1', 'like ?', 10_500]);
    const report = lossReport(input(publishes, [viewer('a', 'http://f1', events, { duplicates: ['e2'] })]));
    expect(report.integrity).toEqual({ duplicates: 1, unpublished: 1, altered: 1 });
  });

  it('a publish sent during the fault and received only after the heal counts as delivered after the heal', () => {
    const events = receiptsOf(publishes).map(([id, payload, atMs]): [string, string, number] =>
      id === 'e2' ? [id, payload, 11_200] : [id, payload, atMs],
    );
    const report = lossReport(input(publishes, [viewer('a', 'http://f1', events)]));
    expect(report.deliveredAfterHeal).toBe(1);
    expect(report.lost.count).toBe(0);
  });
});
