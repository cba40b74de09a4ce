/* @jsxRuntime automatic */
/* @jsxImportSource react */
/** The first row: scenario, seed, the mode when reliable, the time shown and the run's end, play state and speed, filter. */
import { Text } from 'ink';
import type { ReactElement } from 'react';
import { type Screen, speeds } from '../controller.ts';
import { formatTime } from '../format.ts';
import { isReliable, type TraceIndex } from '../trace-index.ts';

export function Header(props: { index: TraceIndex; screen: Screen }): ReactElement {
  const { index, screen } = props;
  const scenario = index.run.scenario as { name?: unknown } | null;
  const name = typeof scenario?.name === 'string' ? scenario.name : 'trace';
  const mode = isReliable(index) ? ' reliable' : '';
  const text = `stadium replay  ${name} seed ${index.run.seed}${mode}  ${formatTime(screen.t)} / ${formatTime(index.endT)}  ${
    screen.playing ? '▶ playing' : '❚❚ paused'
  } ${speeds[screen.speed]}x${index.end ? '' : '  (no end record: the run stopped early)'}${
    screen.filter ? `  filter: ${screen.filter.text}` : ''
  }`;
  return (
    <Text bold wrap="truncate">
      {text}
    </Text>
  );
}
