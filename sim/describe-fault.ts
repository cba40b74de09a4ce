/**
 * How a fault reads in a sentence: the checker's loss explanations and the replay UI use the same
 * words, so a cause in the report and in the trace viewer match.
 */
import { unreachable } from '../core/index.ts';
import type { Fault } from './scenario.ts';

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'kill':
      return `kill ${fault.node}${fault.restartAfterMs === undefined ? '' : `, restart after ${fault.restartAfterMs} ms`}`;
    case 'partition':
      return `partition ${fault.between[0]} ${fault.oneWay === true ? '->' : '|'} ${fault.between[1]} for ${fault.repairAfterMs} ms`;
    case 'isolate':
      return `isolate ${fault.node} for ${fault.releaseAfterMs} ms`;
    case 'jitter-storm':
      return `jitter storm${fault.dc === undefined ? '' : ` in ${fault.dc}`} (+${fault.extraLatency.baseUs} µs, jitter ${fault.extraLatency.jitterUs} µs) for ${fault.durationMs} ms`;
    case 'loss-burst':
      return `loss burst${fault.dc === undefined ? '' : ` in ${fault.dc}`} (${fault.lossPerMillion} per million) for ${fault.durationMs} ms`;
    default:
      return unreachable(fault);
  }
}
