// Goal: every kind of fault reads as one sentence, with how long it lasts or, where its span is
// shown beside it (replay), without. Method: each kind by hand, in both forms.
import { describe, expect, it } from 'vitest';
import { describeFault } from './describe-fault.ts';
import type { Fault } from './scenario.ts';

describe('describeFault', () => {
  const faults: [Fault, string, string][] = [
    [{ kind: 'kill', atMs: 1, node: 'dc-a/frontend-1' }, 'kill dc-a/frontend-1', 'kill dc-a/frontend-1'],
    [
      { kind: 'kill', atMs: 1, node: 'dc-a/frontend-1', restartAfterMs: 700 },
      'kill dc-a/frontend-1, restart after 700 ms',
      'kill dc-a/frontend-1',
    ],
    [
      { kind: 'partition', atMs: 1, between: ['dc-a', 'dc-b'], repairAfterMs: 5 },
      'partition dc-a | dc-b for 5 ms',
      'partition dc-a | dc-b',
    ],
    [
      { kind: 'partition', atMs: 1, between: ['dc-a', 'dc-b'], oneWay: true, repairAfterMs: 5 },
      'partition dc-a -> dc-b for 5 ms',
      'partition dc-a -> dc-b',
    ],
    [
      { kind: 'isolate', atMs: 1, node: 'dc-b/store', releaseAfterMs: 5 },
      'isolate dc-b/store for 5 ms',
      'isolate dc-b/store',
    ],
    [
      {
        kind: 'jitter-storm',
        atMs: 1,
        durationMs: 5,
        extraLatency: { baseUs: 900, jitterUs: 10 },
        dc: 'dc-c',
      },
      'jitter storm in dc-c (+900 µs, jitter 10 µs) for 5 ms',
      'jitter storm in dc-c (+900 µs, jitter 10 µs)',
    ],
    [
      { kind: 'loss-burst', atMs: 1, durationMs: 5, lossPerMillion: 2000 },
      'loss burst (2000 per million) for 5 ms',
      'loss burst (2000 per million)',
    ],
  ];
  for (const [fault, timed, untimed] of faults) {
    it(`names ${timed}`, () => {
      expect(describeFault(fault)).toBe(timed);
      expect(describeFault(fault, { durations: true })).toBe(timed);
      expect(describeFault(fault, { durations: false })).toBe(untimed);
    });
  }
});
