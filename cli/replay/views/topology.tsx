/* @jsxRuntime automatic */
/* @jsxImportSource react */
/**
 * The topology at the time shown: one box per datacenter with a line per node (up or DOWN,
 * connections `c`, topics `t`, leases `l`, isolated), red when partitioned; or, when boxes would
 * leave the pane too few rows, one line per datacenter naming the nodes that are down.
 */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import { boxesPerRow } from '../layout.ts';
import type { NodeView } from '../replay-state.ts';
import type { TraceIndex, View } from '../trace-index.ts';
import { red } from './style.ts';

export function Topology(props: {
  index: TraceIndex;
  view: View;
  width: number;
  compact: boolean;
}): ReactElement {
  const { index, view } = props;
  const isolated = new Set(
    view.faults.flatMap((span) => (span.fault.kind === 'isolate' ? [span.fault.node] : [])),
  );
  const partitioned = new Set(
    view.faults.flatMap((span) => (span.fault.kind === 'partition' ? span.fault.between : [])),
  );
  if (props.compact) {
    return (
      <Box flexDirection="column" width={props.width}>
        {index.datacenters.map((dc) => (
          <Text key={dc} wrap="truncate" {...red(partitioned.has(dc))}>
            {compactLine(
              dc,
              view.nodes.filter((node) => node.dc === dc),
              partitioned.has(dc),
            )}
          </Text>
        ))}
      </Box>
    );
  }
  const boxWidth = Math.floor(props.width / boxesPerRow(index.datacenters.length, props.width));
  return (
    <Box flexWrap="wrap" width={props.width}>
      {index.datacenters.map((dc) => {
        const nodes = view.nodes.filter((node) => node.dc === dc);
        return (
          <Box
            key={dc}
            flexDirection="column"
            borderStyle="round"
            borderColor={partitioned.has(dc) ? 'red' : 'gray'}
            width={boxWidth}
            paddingX={0}
          >
            <Text bold wrap="truncate">
              {dc}
              {partitioned.has(dc) ? ' (partitioned)' : ''}
            </Text>
            {nodes.map((node) => (
              <Text key={node.id} {...red(!node.alive)} wrap="truncate">
                {nodeLine(node, dc, isolated.has(node.id), boxWidth < 30)}
              </Text>
            ))}
          </Box>
        );
      })}
    </Box>
  );
}

function nodeLine(node: NodeView, dc: string, isolated: boolean, short: boolean): string {
  const local = node.id.startsWith(`${dc}/`) ? node.id.slice(dc.length + 1) : node.id;
  const name = short ? local.replace(/^frontend-/, 'fe-').replace(/^dispatcher-/, 'disp-') : local;
  if (!node.alive) return `${name} DOWN`;
  const tag = isolated ? ' isolated' : '';
  if (node.role === 'frontend')
    return `${name} up ${node.connections}c ${node.topics}t ${node.leases}l${tag}`;
  if (node.role === 'store') return `${name} up ${node.leases}l${tag}`;
  return `${name} up${tag}`;
}

function compactLine(dc: string, nodes: NodeView[], partitioned: boolean): string {
  const count = (role: NodeView['role']): string => {
    const all = nodes.filter((node) => node.role === role);
    return `${all.filter((node) => node.alive).length}/${all.length}`;
  };
  const connections = nodes.reduce((sum, node) => sum + (node.role === 'frontend' ? node.connections : 0), 0);
  const leases = nodes.reduce((sum, node) => sum + (node.role === 'store' ? node.leases : 0), 0);
  const down = nodes.filter((node) => !node.alive).map((node) => node.id.slice(dc.length + 1));
  return (
    `${dc}${partitioned ? ' (partitioned)' : ''}: ${down.length ? `DOWN ${down.join(' ')} · ` : ''}` +
    `frontends ${count('frontend')} up ${connections}c · dispatchers ${count('dispatcher')} up · ` +
    `store ${count('store')} up ${leases}l`
  );
}
