/* @jsxRuntime automatic */
/* @jsxImportSource react */
/** The follow pane: the followed event's path (after a violation's chain), scrolled, with where it is in it. */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import type { FollowTarget, Row } from '../screen-readers.ts';
import { red } from './style.ts';

export function FollowPane(props: {
  followed: FollowTarget;
  rows: Row[];
  scroll: number;
  width: number;
  height: number;
}): ReactElement {
  const { rows } = props;
  const listRows = props.height - 1;
  // The pane may have shrunk since the scroll was set: never scroll past the end.
  const first = Math.min(props.scroll, Math.max(0, rows.length - listRows));
  return (
    <Box flexDirection="column" width={props.width} height={props.height}>
      <Text bold wrap="truncate">
        Follow {props.followed?.e || '(no event)'} (↑↓ scroll, f/esc close)
        {rows.length > listRows
          ? ` ${first + 1}-${Math.min(rows.length, first + listRows)}/${rows.length}`
          : ''}
      </Text>
      {rows.slice(first, first + listRows).map((row, i) => (
        <Text key={i} wrap="truncate" {...red(row.bad)}>
          {row.text}
        </Text>
      ))}
    </Box>
  );
}
