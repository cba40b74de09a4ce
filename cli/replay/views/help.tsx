/* @jsxRuntime automatic */
/* @jsxImportSource react */
/** The help pane: every key, and what the letters of the node lines and the timeline mean. */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';

const helpLines = [
  'space        play / pause',
  '← →          step to the previous / next time something happened',
  'Home/0  End  the start / the end of the run',
  'shift+← →    jump by 1/50 of the run',
  '+ -          playback speed (simulated time per real second)',
  'g            go to a time (12.5s, 300ms, 1200us, 50%) or an event id',
  'n p          next / previous violation: jump there and show its chain',
  '↑ ↓          select a record (or scroll the followed path)',
  "f            follow the selected record's event; again to close",
  '/            filter: node:ID (or a dc), topic:T, conn:C, e:ID, kind:K, or a word',
  '             (kinds: gap, append, answer, history, ack, deliver-ack, fault, …)',
  'v            list the violations          esc  back to the events',
  '? q          this help / quit',
  'Nodes: c connections, t topics, l leases.  Timeline: K kill, P partition,',
  'I isolate, J jitter storm, L loss burst, = a fault in force, g gap notice,',
  '! violation, ▲ now.',
];

/** `height` rows, title included; the lines that do not fit are cut. */
export function HelpPane(props: { width?: number; height: number }): ReactElement {
  return (
    <Box
      flexDirection="column"
      height={props.height}
      {...(props.width === undefined ? {} : { width: props.width })}
    >
      <Text bold>Keys</Text>
      {helpLines.slice(0, props.height - 1).map((line) => (
        <Text key={line} wrap="truncate">
          {line}
        </Text>
      ))}
    </Box>
  );
}
