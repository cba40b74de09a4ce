/* @jsxRuntime automatic */
/* @jsxImportSource react */
/** The last row: the prompt being typed, else the message of the last key, else the keys. */
import { Text } from 'ink';
import type { ReactElement } from 'react';
import type { Prompt } from '../controller.ts';

const keysWide =
  'space play  ←/→ step  shift+←/→ jump  +/- speed  g go to  n/p violation  f follow  / filter  v violations  ? help  q quit';
const keysNarrow = '␣ play ←→ step ⇧←→ jump +- speed g goto n/p viol f follow / filter ? help q quit';

export function Footer(props: { prompt: Prompt; message: string | null; width: number }): ReactElement {
  const { prompt, message } = props;
  if (prompt) {
    return (
      <Text wrap="truncate">
        {prompt.kind === 'goto'
          ? 'Go to (12.5s, 300ms, 50%, event id): '
          : 'Filter (node:, topic:, conn:, e:): '}
        {prompt.text}█ <Text dimColor>enter ok, esc cancel</Text>
      </Text>
    );
  }
  if (message) {
    return (
      <Text color="yellow" wrap="truncate">
        {message}
      </Text>
    );
  }
  return (
    <Text dimColor wrap="truncate">
      {props.width >= keysWide.length ? keysWide : keysNarrow}
    </Text>
  );
}
