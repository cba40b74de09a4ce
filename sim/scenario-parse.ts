/**
 * Reading a scenario: `value` (parsed JSON) checked field by field against the rules of
 * `scenario.ts`, defaults filled in, and every problem collected with its path, so one run of the
 * command shows all of them. A field the format does not have is refused at every depth, with its
 * close match.
 */
import {
  defaultFrontendLimits,
  defaultStoreLimits,
  deliveryModes,
  type DeliveryMode,
  type FrontendLimits,
  type StoreLimits,
} from '../core/index.ts';
import { Validator } from './field-validator.ts';
import {
  defaultNetwork,
  defaultRoles,
  faultKinds,
  nodeIds,
  ScenarioError,
  type Fault,
  type FaultKind,
  type Latency,
  type LinkClass,
  type Network,
  type RandomFaults,
  type RoleSettings,
  type Scenario,
  type Workload,
} from './scenario.ts';

/**
 * Check `value` (parsed JSON) against the scenario rules and fill defaults. Every problem is
 * collected, so one run of the command shows all of them.
 */
export function parseScenario(value: unknown, source: string): Scenario {
  const issues: string[] = [];
  const v = new Validator(issues);
  const root = v.object(value, '', [
    'name',
    'description',
    'mode',
    'durationMs',
    'deliveryDeadlineMs',
    'subscribeGraceMs',
    'topology',
    'network',
    'workload',
    'roles',
    'faults',
    'randomFaults',
  ]);
  if (root === null) throw new ScenarioError(source, issues);

  const name = v.string(root.name, 'name', /^[A-Za-z0-9_.-]+$/) ?? 'invalid';
  const durationMs = v.int(root.durationMs, 'durationMs', 1, 24 * 3_600_000) ?? 1;
  const deliveryDeadlineMs = v.int(root.deliveryDeadlineMs ?? 1_000, 'deliveryDeadlineMs', 1, 3_600_000) ?? 1;
  const subscribeGraceMs = v.int(root.subscribeGraceMs ?? 1_000, 'subscribeGraceMs', 0, 3_600_000) ?? 0;
  const description = v.string(root.description ?? '', 'description') ?? '';
  const mode = deliveryMode(issues, root.mode ?? 'best-effort');

  const topologyValue = v.object(root.topology, 'topology', ['datacenters']);
  const dcsValue =
    topologyValue === null ? null : v.array(topologyValue.datacenters, 'topology.datacenters', 1, 16);
  const datacenters = (dcsValue ?? []).map((dc, i) => {
    const path = `topology.datacenters[${i}]`;
    const o = v.object(dc, path, ['name', 'frontends', 'dispatchers']) ?? {};
    return {
      name: v.string(o.name, `${path}.name`, /^[a-z0-9-]+$/) ?? `dc-${i}`,
      frontends: v.int(o.frontends, `${path}.frontends`, 1, 256) ?? 1,
      dispatchers: v.int(o.dispatchers, `${path}.dispatchers`, 1, 256) ?? 1,
    };
  });
  const dcNames = new Set(datacenters.map((dc) => dc.name));
  if (dcNames.size !== datacenters.length)
    issues.push('topology.datacenters: datacenter names must be unique');
  const topology = { datacenters };
  const nodes = new Set(nodeIds({ topology }).map((node) => node.id));

  const networkValue = v.object(root.network ?? {}, 'network', ['client', 'intraDc', 'crossDc']) ?? {};
  const latency = (x: unknown, path: string, fallback: Latency): Latency => {
    if (x === undefined) return fallback;
    const o = v.object(x, path, ['baseUs', 'jitterUs']) ?? {};
    return {
      baseUs: v.int(o.baseUs, `${path}.baseUs`, 0, 60_000_000) ?? 0,
      jitterUs: v.int(o.jitterUs ?? 0, `${path}.jitterUs`, 0, 60_000_000) ?? 0,
    };
  };
  const link = (x: unknown, path: string, fallback: LinkClass): LinkClass => {
    if (x === undefined) return fallback;
    const o = v.object(x, path, ['latency', 'lossPerMillion', 'duplicatePerMillion', 'fifo']) ?? {};
    return {
      latency: latency(o.latency, `${path}.latency`, fallback.latency),
      lossPerMillion: v.int(o.lossPerMillion ?? 0, `${path}.lossPerMillion`, 0, 1_000_000) ?? 0,
      duplicatePerMillion:
        v.int(o.duplicatePerMillion ?? 0, `${path}.duplicatePerMillion`, 0, 1_000_000) ?? 0,
      fifo: v.boolean(o.fifo ?? false, `${path}.fifo`) ?? false,
    };
  };
  const clientValue =
    networkValue.client === undefined
      ? {}
      : (v.object(networkValue.client, 'network.client', ['latency']) ?? {});
  const network: Network = {
    client: {
      latency: latency(clientValue.latency, 'network.client.latency', defaultNetwork.client.latency),
    },
    intraDc: link(networkValue.intraDc, 'network.intraDc', defaultNetwork.intraDc),
    crossDc: link(networkValue.crossDc, 'network.crossDc', defaultNetwork.crossDc),
  };

  const workloadValue =
    v.object(root.workload, 'workload', [
      'topics',
      'joinOverMs',
      'publishFromMs',
      'churnPerViewerPerMinute',
      'rejoinAfterMs',
      'leavePerViewerPerMinute',
      'reconnectPerViewerPerMinute',
      'reconnectBackoffMs',
      'payloadBytes',
      'occupancyWatchersEvery',
    ]) ?? {};
  const topics = (v.array(workloadValue.topics, 'workload.topics', 1, 1_000) ?? []).map((t, i) => {
    const path = `workload.topics[${i}]`;
    const o = v.object(t, path, ['name', 'viewers', 'publishesPerSecond', 'burstMs', 'quietMs']) ?? {};
    const load = {
      name: v.string(o.name, `${path}.name`, /^[A-Za-z0-9_.:\-/]{1,128}$/) ?? `t${i}`,
      viewers: v.int(o.viewers, `${path}.viewers`, 0, 10_000_000) ?? 0,
      publishesPerSecond: v.number(o.publishesPerSecond, `${path}.publishesPerSecond`, 0, 1_000_000) ?? 0,
      burstMs: v.int(o.burstMs ?? 0, `${path}.burstMs`, 0, 24 * 3_600_000) ?? 0,
      quietMs: v.int(o.quietMs ?? 0, `${path}.quietMs`, 0, 24 * 3_600_000) ?? 0,
    };
    if (load.quietMs > 0 && load.burstMs === 0)
      issues.push(`${path}.burstMs: a topic with quietMs publishes in bursts: give burstMs too`);
    return load;
  });
  if (new Set(topics.map((t) => t.name)).size !== topics.length)
    issues.push('workload.topics: topic names must be unique');
  const backoff =
    v.object(workloadValue.reconnectBackoffMs ?? { min: 100, max: 1_000 }, 'workload.reconnectBackoffMs', [
      'min',
      'max',
    ]) ?? {};
  const workload: Workload = {
    topics,
    joinOverMs: v.int(workloadValue.joinOverMs ?? 1_000, 'workload.joinOverMs', 1, 3_600_000) ?? 1,
    publishFromMs:
      v.int(workloadValue.publishFromMs ?? 2_000, 'workload.publishFromMs', 0, 24 * 3_600_000) ?? 0,
    churnPerViewerPerMinute:
      v.number(workloadValue.churnPerViewerPerMinute ?? 0, 'workload.churnPerViewerPerMinute', 0, 600) ?? 0,
    rejoinAfterMs: v.int(workloadValue.rejoinAfterMs ?? 2_000, 'workload.rejoinAfterMs', 0, 3_600_000) ?? 0,
    leavePerViewerPerMinute:
      v.number(workloadValue.leavePerViewerPerMinute ?? 0, 'workload.leavePerViewerPerMinute', 0, 600) ?? 0,
    reconnectPerViewerPerMinute:
      v.number(
        workloadValue.reconnectPerViewerPerMinute ?? 0,
        'workload.reconnectPerViewerPerMinute',
        0,
        600,
      ) ?? 0,
    reconnectBackoffMs: {
      min: v.int(backoff.min, 'workload.reconnectBackoffMs.min', 0, 3_600_000) ?? 0,
      max: v.int(backoff.max, 'workload.reconnectBackoffMs.max', 0, 3_600_000) ?? 0,
    },
    payloadBytes: v.int(workloadValue.payloadBytes ?? 64, 'workload.payloadBytes', 8, 1_000_000) ?? 8,
    occupancyWatchersEvery:
      v.int(
        workloadValue.occupancyWatchersEvery ?? defaultOccupancyWatchersEvery,
        'workload.occupancyWatchersEvery',
        0,
        1_000_000,
      ) ?? 0,
  };
  if (workload.reconnectBackoffMs.min > workload.reconnectBackoffMs.max) {
    issues.push('workload.reconnectBackoffMs: min must not exceed max');
  }

  const rolesValue = v.object(root.roles ?? {}, 'roles', Object.keys(defaultRoles)) ?? {};
  const roles: RoleSettings = { ...defaultRoles };
  for (const key of Object.keys(rolesValue)) {
    if (key === 'frontendLimits') {
      roles.frontendLimits = frontendLimits(v, rolesValue.frontendLimits, 'roles.frontendLimits');
    } else if (key === 'storeLimits') {
      roles.storeLimits = storeLimits(v, issues, rolesValue.storeLimits, 'roles.storeLimits');
    } else if (Object.hasOwn(defaultRoles, key)) {
      const min = rolesZeroOk.includes(key) ? 0 : 1;
      (roles as unknown as Record<string, number>)[key] =
        v.int(rolesValue[key], `roles.${key}`, min, 3_600_000) ?? min;
    }
  }
  if (roles.renewEveryMs >= roles.leaseMs)
    issues.push('roles.renewEveryMs: must be shorter than roles.leaseMs');

  const node = (x: unknown, path: string): string => {
    const id = v.string(x, path) ?? '';
    if (id !== '' && !nodes.has(id))
      issues.push(`${path}: unknown node "${id}" (nodes are like ${[...nodes][0] ?? 'dc/frontend-1'})`);
    return id;
  };
  const dc = (x: unknown, path: string): string => {
    const name = v.string(x, path) ?? '';
    if (name !== '' && !dcNames.has(name)) issues.push(`${path}: unknown datacenter "${name}"`);
    return name;
  };
  const faults = (v.array(root.faults ?? [], 'faults', 0, 10_000) ?? []).map((f, i): Fault => {
    const path = `faults[${i}]`;
    const o = v.object(f, path, null) ?? {};
    const kind = faultKinds.find((k) => k === o.kind);
    if (kind !== undefined) v.fields(o, path, faultFields[kind]);
    const atMs = v.int(o.atMs, `${path}.atMs`, 0, durationMs) ?? 0;
    const optionalDc = o.dc === undefined ? {} : { dc: dc(o.dc, `${path}.dc`) };
    switch (o.kind) {
      case 'kill': {
        const restart =
          o.restartAfterMs === undefined
            ? {}
            : { restartAfterMs: v.int(o.restartAfterMs, `${path}.restartAfterMs`, 1, 24 * 3_600_000) ?? 1 };
        return { kind: 'kill', atMs, node: node(o.node, `${path}.node`), ...restart };
      }
      case 'partition': {
        const between = v.array(o.between, `${path}.between`, 2, 2) ?? ['', ''];
        const pair: [string, string] = [
          dc(between[0], `${path}.between[0]`),
          dc(between[1], `${path}.between[1]`),
        ];
        if (pair[0] === pair[1] && pair[0] !== '')
          issues.push(`${path}.between: a datacenter cannot be partitioned from itself`);
        return {
          kind: 'partition',
          atMs,
          between: pair,
          oneWay: v.boolean(o.oneWay ?? false, `${path}.oneWay`) ?? false,
          repairAfterMs: v.int(o.repairAfterMs, `${path}.repairAfterMs`, 1, 24 * 3_600_000) ?? 1,
        };
      }
      case 'isolate':
        return {
          kind: 'isolate',
          atMs,
          node: node(o.node, `${path}.node`),
          releaseAfterMs: v.int(o.releaseAfterMs, `${path}.releaseAfterMs`, 1, 24 * 3_600_000) ?? 1,
        };
      case 'jitter-storm':
        return {
          kind: 'jitter-storm',
          atMs,
          durationMs: v.int(o.durationMs, `${path}.durationMs`, 1, 24 * 3_600_000) ?? 1,
          extraLatency: latency(o.extraLatency, `${path}.extraLatency`, { baseUs: 0, jitterUs: 0 }),
          ...optionalDc,
        };
      case 'loss-burst':
        return {
          kind: 'loss-burst',
          atMs,
          durationMs: v.int(o.durationMs, `${path}.durationMs`, 1, 24 * 3_600_000) ?? 1,
          lossPerMillion: v.int(o.lossPerMillion, `${path}.lossPerMillion`, 0, 1_000_000) ?? 0,
          ...optionalDc,
        };
      default:
        issues.push(`${path}.kind: must be one of ${faultKinds.join(', ')} (got ${JSON.stringify(o.kind)})`);
        return { kind: 'kill', atMs, node: '' };
    }
  });

  let randomFaults: RandomFaults | null = null;
  if (root.randomFaults !== undefined && root.randomFaults !== null) {
    const o =
      v.object(root.randomFaults, 'randomFaults', [
        'killsPerMinute',
        'partitionsPerMinute',
        'isolationsPerMinute',
        'jitterStormsPerMinute',
        'lossBurstsPerMinute',
        'durationMs',
      ]) ?? {};
    const rate = (key: string): number => v.number(o[key] ?? 0, `randomFaults.${key}`, 0, 1_000) ?? 0;
    const d =
      v.object(o.durationMs ?? { min: 500, max: 5_000 }, 'randomFaults.durationMs', ['min', 'max']) ?? {};
    randomFaults = {
      killsPerMinute: rate('killsPerMinute'),
      partitionsPerMinute: rate('partitionsPerMinute'),
      isolationsPerMinute: rate('isolationsPerMinute'),
      jitterStormsPerMinute: rate('jitterStormsPerMinute'),
      lossBurstsPerMinute: rate('lossBurstsPerMinute'),
      durationMs: {
        min: v.int(d.min, 'randomFaults.durationMs.min', 1, 3_600_000) ?? 1,
        max: v.int(d.max, 'randomFaults.durationMs.max', 1, 3_600_000) ?? 1,
      },
    };
  }

  if (issues.length > 0) throw new ScenarioError(source, issues);
  return {
    name,
    description,
    mode,
    durationMs,
    deliveryDeadlineMs,
    subscribeGraceMs,
    topology,
    network,
    workload,
    roles,
    faults,
    randomFaults,
  };
}

/** Role settings that may be 0: an interval whose 0 turns its feature off. */
const rolesZeroOk: readonly string[] = ['occupancyEveryMs'];

/**
 * One viewer in ten, in every datacenter, watches the viewer count: the flagship's thousand
 * watchers see every topic from every datacenter.
 */
const defaultOccupancyWatchersEvery = 10;

/** The fields each kind of fault takes. */
const faultFields: Record<FaultKind, readonly string[]> = {
  kill: ['kind', 'atMs', 'node', 'restartAfterMs'],
  partition: ['kind', 'atMs', 'between', 'oneWay', 'repairAfterMs'],
  isolate: ['kind', 'atMs', 'node', 'releaseAfterMs'],
  'jitter-storm': ['kind', 'atMs', 'durationMs', 'extraLatency', 'dc'],
  'loss-burst': ['kind', 'atMs', 'durationMs', 'lossPerMillion', 'dc'],
};

/** `mode`: how the roles deliver. */
function deliveryMode(issues: string[], x: unknown): DeliveryMode {
  const mode = deliveryModes.find((m) => m === x);
  if (mode !== undefined) return mode;
  issues.push(`mode: must be one of ${deliveryModes.join(', ')} (got ${JSON.stringify(x)})`);
  return 'best-effort';
}

/** Store limits that may be 0: how long a tombstone or a lapsed lease is kept. */
const storeLimitsZeroOk: readonly string[] = ['tombstoneMs', 'lapsedKeepMs'];

/**
 * `roles.storeLimits`: any of the store's named limits (the histories' too); at least 1, but for
 * the durations in `storeLimitsZeroOk`. A history must remember the id of every event it holds.
 */
function storeLimits(v: Validator, issues: string[], x: unknown, path: string): Partial<StoreLimits> {
  const names = Object.keys(defaultStoreLimits) as (keyof StoreLimits)[];
  const o = v.object(x, path, names) ?? {};
  const limits: Partial<StoreLimits> = {};
  for (const name of names) {
    if (o[name] === undefined) continue;
    const min = storeLimitsZeroOk.includes(name) ? 0 : 1;
    limits[name] = v.int(o[name], `${path}.${name}`, min, 1_000_000_000) ?? 1;
  }
  const { historyIdsMax, historyEventsMax } = { ...defaultStoreLimits, ...limits };
  if (historyIdsMax < historyEventsMax)
    issues.push(
      `${path}.historyIdsMax: must be at least historyEventsMax (${historyIdsMax} < ${historyEventsMax}): a history finds every event it holds by its id`,
    );
  return limits;
}

/** `roles.frontendLimits`: any of the frontend's named limits, each a positive integer. */
function frontendLimits(v: Validator, x: unknown, path: string): Partial<FrontendLimits> {
  const names = Object.keys(defaultFrontendLimits) as (keyof FrontendLimits)[];
  const o = v.object(x, path, names) ?? {};
  const limits: Partial<FrontendLimits> = {};
  for (const name of names)
    if (o[name] !== undefined) limits[name] = v.int(o[name], `${path}.${name}`, 1, 1_000_000_000) ?? 1;
  return limits;
}
