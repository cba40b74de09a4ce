/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * The records pane: the records around the time shown (those after it dimmed), the selected one
 * marked `›` and drawn inverse, what went wrong (drops, losses, violations, faults, a node down)
 * in red.
 */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import type { Filter } from '../filter.ts';
import { describeRecord, formatTime } from '../format.ts';
import type { TraceRecord } from '../../../sim/index.ts';
import type { Entry, TraceIndex } from '../trace-index.ts';
import { red } from './style.ts';

export function RecordsPane(props: {
  index: TraceIndex;
  entries: Entry[];
  selected: number;
  /** How many of `entries` are at or before the time shown. */
  before: number;
  filter: Filter | null;
  width: number;
  rows: number;
}): ReactElement {
  const { filter, entries } = props;
  return (
    <Box flexDirection="column" width={props.width} height={props.rows}>
      <Text bold wrap="truncate">
        Events{filter ? ` matching "${filter.text}"` : ''} (↑↓ select, f follow)
      </Text>
      {entries.length === 0 ? (
        <Text dimColor>no records{filter ? ' match the filter near here' : ''}</Text>
      ) : null}
      {entries.map((entry, i) => (
        <RecordLine
          key={entry.line}
          entry={entry}
          index={props.index}
          selected={i === props.selected}
          future={i >= props.before}
        />
      ))}
    </Box>
  );
}

const isBad = (record: TraceRecord): boolean =>
  record.k === 'drop' ||
  record.k === 'client-drop' ||
  record.k === 'loss' ||
  record.k === 'violation' ||
  record.k === 'role-drop' ||
  (record.k === 'node' && record.op === 'down') ||
  record.k === 'fault';

function RecordLine(props: {
  entry: Entry;
  selected: boolean;
  future: boolean;
  index: TraceIndex;
}): ReactElement {
  const { entry } = props;
  const text = `${formatTime(entry.record.t)} ${describeRecord(entry.record, entry.send, (f) => props.index.faultName(f))}`;
  return (
    <Text
      wrap="truncate"
      inverse={props.selected}
      dimColor={props.future && !props.selected}
      {...red(isBad(entry.record))}
    >
      {props.selected ? '›' : ' '}
      {text}
    </Text>
  );
}
