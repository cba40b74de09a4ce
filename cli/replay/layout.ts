/**
 * How the replay screen shares its rows and columns. From top to bottom: a header, the topology
 * (one box per datacenter, or one line per datacenter when boxes would leave fewer than 8 rows for
 * the pane), the faults in force, the timeline (2 rows), the counters (2 rows), the pane and the
 * footer. From 140 columns, a pane other than the records shows beside them, each half the width.
 */
import type { TopologyNode } from '../../sim/index.ts';

export interface Layout {
  width: number;
  height: number;
  /** Wide enough for two panes side by side. */
  wide: boolean;
  /** One line per datacenter instead of boxes. */
  compact: boolean;
  /** Rows of the pane, its title included. */
  paneRows: number;
  /** Rows of records (or of the followed path) a pane lists below its title. */
  listRows: number;
  /** How many of the listed records come after the current time. */
  afterRows: number;
  /** Width of the pane that shows a followed path. */
  followWidth: number;
}

/** Rows of the header, faults, timeline, counters and footer together. */
const fixedRows = 7;

/** How many datacenter boxes fit side by side (each needs 24 columns). */
export function boxesPerRow(datacenters: number, width: number): number {
  return Math.max(1, Math.min(datacenters, Math.floor(width / 24)));
}

export function layoutFor(
  datacenters: readonly string[],
  nodes: readonly TopologyNode[],
  width: number,
  height: number,
): Layout {
  const wide = width >= 140;
  const boxRows = Math.ceil(datacenters.length / boxesPerRow(datacenters.length, width));
  const nodesPerDc = Math.max(0, ...datacenters.map((dc) => nodes.filter((n) => n.dc === dc).length));
  const fullTopology = boxRows * (nodesPerDc + 3);
  const compact = height - fixedRows - fullTopology < 8;
  const topologyRows = compact ? datacenters.length : fullTopology;
  const paneRows = Math.max(3, height - fixedRows - topologyRows);
  const listRows = paneRows - 1;
  return {
    width,
    height,
    wide,
    compact,
    paneRows,
    listRows,
    afterRows: Math.min(3, Math.floor(listRows / 4)),
    followWidth: wide ? width - Math.floor(width / 2) : width,
  };
}
