/**
 * How a fault reads in a sentence: the checker's loss explanations and the replay UI use the same
 * words, so a cause in the report and in the trace viewer match. Replay shows when each fault
 * starts and ends beside it, so it asks for the words without the durations.
 */
import { unreachable } from '../core/index.ts';
import type { Fault } from './scenario.ts';

export interface DescribeFaultOptions {
  /** Say how long the fault lasts (the default); false for where its span is shown beside it. */
  durations?: boolean;
}

export function describeFault(fault: Fault, options: DescribeFaultOptions = {}): string {
  const timed = options.durations !== false;
  const lasting = (ms: number): string => (timed ? ` for ${ms} ms` : '');
  switch (fault.kind) {
    case 'kill':
      return `kill ${fault.node}${fault.restartAfterMs === undefined || !timed ? '' : `, restart after ${fault.restartAfterMs} ms`}`;
    case 'partition':
      return `partition ${fault.between[0]} ${fault.oneWay === true ? '->' : '|'} ${fault.between[1]}${lasting(fault.repairAfterMs)}`;
    case 'isolate':
      return `isolate ${fault.node}${lasting(fault.releaseAfterMs)}`;
    case 'jitter-storm':
      return `jitter storm${fault.dc === undefined ? '' : ` in ${fault.dc}`} (+${fault.extraLatency.baseUs} µs, jitter ${fault.extraLatency.jitterUs} µs)${lasting(fault.durationMs)}`;
    case 'loss-burst':
      return `loss burst${fault.dc === undefined ? '' : ` in ${fault.dc}`} (${fault.lossPerMillion} per million)${lasting(fault.durationMs)}`;
    default:
      return unreachable(fault);
  }
}
