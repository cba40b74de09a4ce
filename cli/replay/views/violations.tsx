/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * The violations pane: the violations the checkers keep in detail (the first of each invariant, as
 * the run's report lists them), by time, the one n/p last jumped to centred and marked; the title
 * says how many they counted in all when that is more.
 */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import { formatTime } from '../format.ts';
import type { TraceIndex } from '../trace-index.ts';

export function ViolationsPane(props: {
  index: TraceIndex;
  current: number | null;
  width: number;
  height: number;
}): ReactElement {
  const { violations } = props.index;
  const counted = props.index.totals.violations;
  const listRows = props.height - 1;
  const current = props.current ?? -1;
  const first = Math.max(0, Math.min(current - Math.floor(listRows / 2), violations.length - listRows));
  return (
    <Box flexDirection="column" width={props.width} height={props.height}>
      <Text bold wrap="truncate">
        {`Violations (${violations.length}${counted > violations.length ? ` in detail, of ${counted.toLocaleString('en-US')} counted` : ''})  n/p jump`}
      </Text>
      {violations.length === 0 ? <Text>none</Text> : null}
      {violations.slice(first, first + listRows).map((entry, i) => (
        // One record can reveal several violations: the position, not the line, tells them apart.
        <Text key={first + i} wrap="truncate" inverse={first + i === current} color="red">
          {`${first + i + 1}. ${formatTime(entry.t)} ${entry.violation.invariant} ${entry.violation.e ?? ''}: ${entry.violation.message}`}
        </Text>
      ))}
    </Box>
  );
}
