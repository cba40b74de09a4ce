// Goal: the workload features the property runs draw do what they say: viewers who leave for good,
// viewers who drop their connection and resume elsewhere, topics that publish in bursts and fall
// quiet, store limits the scenario sets, and viewers who watch counts. Method: small scenarios,
// read the trace.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScenario } from '../run.ts';
import { parseScenario } from '../scenario-parse.ts';
import type { Scenario } from '../scenario.ts';
import type { TraceRecord } from '../trace.ts';

const dir = mkdtempSync(join(tmpdir(), 'stadium-workload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scenario(workload: Record<string, unknown>, roles: Record<string, unknown> = {}): Scenario {
  return parseScenario(
    {
      name: 'workload',
      durationMs: 10_000,
      topology: { datacenters: [{ name: 'dc-a', frontends: 2, dispatchers: 1 }] },
      workload: {
        topics: [{ name: 'live', viewers: 40, publishesPerSecond: 10 }],
        joinOverMs: 500,
        publishFromMs: 1_000,
        ...workload,
      },
      roles,
    },
    'test',
  );
}

function records(s: Scenario, seed = '5'): TraceRecord[] {
  const tracePath = join(dir, `${Math.random().toString(36).slice(2)}.jsonl`);
  runScenario(s, seed, { tracePath });
  return readFileSync(tracePath, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as TraceRecord);
}

const conns = (rs: TraceRecord[], op: string) =>
  rs.filter((r): r is Extract<TraceRecord, { k: 'conn' }> => r.k === 'conn' && r.op === op);

describe('workload features', () => {
  it('a viewer that leaves for good disconnects, leaves its topic, and never comes back', () => {
    const rs = records(scenario({ leavePerViewerPerMinute: 6 }));
    const closed = conns(rs, 'close');
    expect(closed.length).toBeGreaterThan(5);
    for (const close of closed) {
      const after = rs.filter((r) => r.k === 'conn' && r.op === 'open' && r.v === close.v && r.t > close.t);
      expect(after, `viewer ${close.v}`).toEqual([]);
      // The frontend heard the disconnect first: the viewer left its topic there.
      expect(conns(rs, 'unsub').some((u) => u.c === close.c && u.t <= close.t)).toBe(true);
    }
  });

  it('a viewer that drops its connection reconnects to the other frontend and resumes', () => {
    const rs = records(scenario({ reconnectPerViewerPerMinute: 6 }));
    const closed = conns(rs, 'close');
    expect(closed.length).toBeGreaterThan(5);
    const reopened = closed.filter((close) =>
      conns(rs, 'open').some((open) => open.v === close.v && open.t > close.t && open.node !== close.node),
    );
    expect(reopened.length).toBe(closed.length);
  });

  it('a bursty topic publishes only in its bursts, and is quiet longer than a lease between them', () => {
    const rs = records(
      scenario({
        topics: [{ name: 'live', viewers: 10, publishesPerSecond: 20, burstMs: 500, quietMs: 6_000 }],
      }),
    );
    const times = rs.filter((r) => r.k === 'publish').map((r) => r.t / 1_000);
    expect(times.length).toBeGreaterThan(5);
    for (const ms of times) expect((ms - 1_000) % 6_500).toBeLessThan(500);
    expect(times.some((ms) => ms > 7_500)).toBe(true);
  });

  it("the scenario's store limits reach the store: past topicsMax registrations are refused", () => {
    const rs = records(
      scenario(
        {
          topics: [
            { name: 'a', viewers: 10, publishesPerSecond: 1 },
            { name: 'b', viewers: 10, publishesPerSecond: 1 },
          ],
        },
        { storeLimits: { topicsMax: 1 } },
      ),
    );
    const granted = new Set(
      rs.filter((r) => r.k === 'lease' && r.change === 'granted').map((r) => (r as { topic: string }).topic),
    );
    expect(granted.size).toBe(1);
  });

  it('one viewer in N per datacenter watches counts and is told them; the workload is the same whoever watches', () => {
    const twoDcs = (every: number): Scenario =>
      parseScenario(
        {
          name: 'watchers',
          durationMs: 6_000,
          topology: {
            datacenters: [
              { name: 'dc-a', frontends: 2, dispatchers: 1 },
              { name: 'dc-b', frontends: 2, dispatchers: 1 },
            ],
          },
          workload: {
            topics: [{ name: 'live', viewers: 40, publishesPerSecond: 5 }],
            joinOverMs: 500,
            publishFromMs: 1_000,
            churnPerViewerPerMinute: 6,
            occupancyWatchersEvery: every,
          },
        },
        'test',
      );
    const watched = records(twoDcs(4));
    const opens = watched.flatMap((r) => (r.k === 'conn' && r.op === 'open' ? [r] : []));
    const watchers = opens.filter((r) => r.occ === true);
    // Viewers take the datacenters in turn: the first of every fourth round of them watches.
    expect(new Set(watchers.map((r) => r.v))).toEqual(
      new Set(opens.map((r) => r.v).filter((v) => Math.floor(v / 2) % 4 === 0)),
    );
    expect(new Set(watchers.map((r) => r.node.split('/')[0]))).toEqual(new Set(['dc-a', 'dc-b']));
    const told = watched.flatMap((r) => (r.k === 'occupancy' ? [r] : []));
    expect(new Set(told.map((r) => r.node.split('/')[0]))).toEqual(new Set(['dc-a', 'dc-b']));
    expect(told.at(-1)?.byDc).toMatchObject({ 'dc-a': expect.any(Number), 'dc-b': expect.any(Number) });
    // Nobody watching: no count told, no watcher, and each viewer joins the frontend it joined before.
    const unwatched = records(twoDcs(0));
    expect(unwatched.filter((r) => r.k === 'occupancy')).toEqual([]);
    expect(unwatched.some((r) => r.k === 'conn' && r.occ === true)).toBe(false);
    const firstNode = (rs: TraceRecord[]): Map<number, string> => {
      const nodes = new Map<number, string>();
      for (const r of rs) if (r.k === 'conn' && r.op === 'open' && !nodes.has(r.v)) nodes.set(r.v, r.node);
      return nodes;
    };
    expect(firstNode(unwatched)).toEqual(firstNode(watched));
  });
});
