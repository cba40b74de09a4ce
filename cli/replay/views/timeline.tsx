/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * Two rows: the whole run as a line with a letter where each fault starts (K kill, P partition,
 * I isolate, J jitter storm, L loss burst), `=` while it is in force, `g` at each gap notice
 * (reliable mode) and `!` at each violation (over all else); and below it ▲ at the time shown,
 * with the time beside it.
 */
import { Text } from 'ink';
import type { ReactElement } from 'react';
import { unreachable } from '../../../core/index.ts';
import { formatTime } from '../format.ts';
import type { Fault } from '../../../sim/index.ts';
import type { TraceIndex } from '../trace-index.ts';

export function Timeline(props: { index: TraceIndex; t: number; width: number }): ReactElement {
  const [line, cursor] = timelineText(props.index, props.t, props.width);
  return (
    <>
      <Text wrap="truncate">{line}</Text>
      <Text wrap="truncate">{cursor}</Text>
    </>
  );
}

function faultLetter(kind: Fault['kind']): string {
  switch (kind) {
    case 'kill':
      return 'K';
    case 'partition':
      return 'P';
    case 'isolate':
      return 'I';
    case 'jitter-storm':
      return 'J';
    case 'loss-burst':
      return 'L';
    default:
      return unreachable(kind);
  }
}

export function timelineText(index: TraceIndex, t: number, width: number): [string, string] {
  const cells = Math.max(10, width);
  const span = Math.max(1, index.endT);
  const column = (us: number): number =>
    Math.min(cells - 1, Math.max(0, Math.floor((us / span) * (cells - 1))));
  const line = Array.from({ length: cells }, () => '─');
  for (const fault of index.faults) {
    const from = column(fault.start);
    const to = column(fault.end ?? index.endT);
    for (let i = from; i <= to; i++) line[i] = '=';
  }
  const gaps = index.gaps;
  for (let i = 0; i < gaps.size; i++) line[column(gaps.timeOf(i))] = 'g';
  for (const fault of index.faults) line[column(fault.start)] = faultLetter(fault.fault.kind);
  for (const v of index.violations) line[column(v.t)] = '!';
  const at = column(t);
  const label = formatTime(t);
  const cursor = Array.from({ length: cells }, () => ' ');
  cursor[at] = '▲';
  const labelAt = at + 2 + label.length <= cells ? at + 2 : Math.max(0, at - 1 - label.length);
  for (let i = 0; i < label.length && labelAt + i < cells; i++)
    if (labelAt + i !== at) cursor[labelAt + i] = label[i]!;
  return [line.join(''), cursor.join('')];
}
