/* @jsxRuntime automatic */
/* @jsxImportSource react */
/** The violations pane: every violation of the trace by time, the one n/p last jumped to centred and marked. */
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
  const listRows = props.height - 1;
  const current = props.current ?? -1;
  const first = Math.max(0, Math.min(current - Math.floor(listRows / 2), violations.length - listRows));
  return (
    <Box flexDirection="column" width={props.width} height={props.height}>
      <Text bold wrap="truncate">
        Violations ({violations.length}) n/p jump
      </Text>
      {violations.length === 0 ? <Text>none</Text> : null}
      {violations.slice(first, first + listRows).map((entry, i) => (
        <Text key={entry.line} wrap="truncate" inverse={first + i === current} color="red">
          {`${first + i + 1}. ${formatTime(entry.t)} ${entry.violation.invariant} ${entry.violation.e ?? ''}: ${entry.violation.message}`}
        </Text>
      ))}
    </Box>
  );
}
