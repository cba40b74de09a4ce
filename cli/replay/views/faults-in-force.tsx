/* @jsxRuntime automatic */
/* @jsxImportSource react */
/** One row: the partitions in force at the time shown, then the other faults, each with its number; red when any. */
import { Text } from 'ink';
import type { ReactElement } from 'react';
import { describeFault } from '../../../sim/index.ts';
import type { View } from '../trace-index.ts';
import { red } from './style.ts';

export function FaultsInForce(props: { view: View }): ReactElement {
  const faults = props.view.faults;
  const partitions = faults.filter((span) => span.fault.kind === 'partition');
  const others = faults.filter((span) => span.fault.kind !== 'partition');
  const text = `Partitions: ${
    partitions.length
      ? partitions
          .map((s) => `${describeFault(s.fault, { durations: false }).replace('partition ', '')} (#${s.f})`)
          .join(', ')
      : 'none'
  }${others.length ? `   Faults: ${others.map((s) => `${describeFault(s.fault, { durations: false })} (#${s.f})`).join(', ')}` : ''}`;
  return (
    <Text wrap="truncate" {...red(faults.length > 0)}>
      {text}
    </Text>
  );
}
