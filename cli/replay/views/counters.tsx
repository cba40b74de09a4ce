/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * Two rows: the counters at the time shown ("so far") above the same counters over the whole run
 * (what the run's report totals), each field aligned with its pair; shorter labels when the width
 * asks, and at the narrowest numbers of five digits and more in thousands (`11.5k`) or millions.
 * In a reliable run what missed its deadline is `late`, not `lost`: it comes later, or a gap
 * notice says it never will.
 */
import { Text } from 'ink';
import type { ReactElement } from 'react';
import type { Counters } from '../replay-state.ts';

export function CountersView(props: {
  soFar: Counters;
  total: Counters;
  width: number;
  reliable: boolean;
}): ReactElement {
  const [soFar, total] = countersLines(props.soFar, props.total, props.width, props.reliable);
  return (
    <>
      <Text wrap="truncate">{soFar}</Text>
      <Text wrap="truncate">{total}</Text>
    </>
  );
}

export function countersLines(
  soFar: Counters,
  total: Counters,
  width: number,
  reliable = false,
): [string, string] {
  const lost = reliable ? 'late' : 'lost';
  const n = (value: number): string => value.toLocaleString('en-US');
  const short = (value: number): string =>
    value < 10_000
      ? n(value)
      : value < 1_000_000
        ? `${+(value / 1000).toFixed(value < 100_000 ? 1 : 0)}k`
        : `${+(value / 1_000_000).toFixed(1)}M`;
  const forms: ((c: Counters) => string[])[] = [
    (c) => [
      `published ${n(c.published)}`,
      `delivered ${n(c.delivered)}`,
      `${lost} ${n(c.lostExplained)} explained / ${n(c.lostUnexplained)} unexplained`,
      `duplicates ${n(c.duplicates)}`,
      `violations ${n(c.violations)}`,
    ],
    (c) => [
      `published ${n(c.published)}`,
      `delivered ${n(c.delivered)}`,
      `${lost} ${n(c.lostExplained)} expl / ${n(c.lostUnexplained)} unexpl`,
      `dup ${n(c.duplicates)}`,
      `viol ${n(c.violations)}`,
    ],
    (c) => [
      `pub ${n(c.published)}`,
      `deliv ${n(c.delivered)}`,
      `${lost} ${n(c.lostExplained + c.lostUnexplained)} (${n(c.lostUnexplained)} unexpl)`,
      `dup ${n(c.duplicates)}`,
      `viol ${n(c.violations)}`,
    ],
    (c) => [
      `pub ${short(c.published)}`,
      `deliv ${short(c.delivered)}`,
      `${lost} ${short(c.lostExplained + c.lostUnexplained)} (${short(c.lostUnexplained)} unexpl)`,
      `dup ${short(c.duplicates)}`,
      `viol ${short(c.violations)}`,
    ],
  ];
  let lines: [string, string] = ['', ''];
  for (const [i, form] of forms.entries()) {
    const heads = i === 0 ? ['so far (at ▲)', 'whole run'] : ['so far', 'whole run'];
    const [a, b] = [form(soFar), form(total)];
    const widths = a.map((field, j) => Math.max(field.length, b[j]!.length));
    const headWidth = Math.max(...heads.map((head) => head.length));
    const line = (head: string, fields: string[]): string =>
      `${head.padEnd(headWidth)}  ${fields.map((field, j) => field.padEnd(widths[j]!)).join('  ')}`.trimEnd();
    lines = [line(heads[0]!, a), line(heads[1]!, b)];
    if (lines[0].length <= width && lines[1].length <= width) break;
  }
  return lines;
}
