/**
 * A scenario's topology as real processes on 127.0.0.1: per datacenter one `redis-server` of its
 * own (on a free port, nothing on disk, so a restart comes back empty) as its subscription store,
 * and every frontend and dispatcher a `stadium serve` in its own process (chaos/node.ts) with the
 * scenario's role settings, writing its facts to the run's directory.
 *
 * - Node-to-node links can pass through fault proxies (chaos/fault-proxy.ts): then a node listens
 *   on a private port and its public URL, its node id, is its proxy's; viewers and publishers
 *   always talk to the private port, as client links are not what the network faults cut.
 * - Verbs in pairs, as the simulator's: `kill`/`restart` (SIGKILL; a fresh process, the next
 *   incarnation, same ports), `freeze`/`thaw` (SIGSTOP/SIGCONT), `killStore`/`restartStore` (the
 *   datacenter's redis-server, back empty).
 * - Children die with the harness: each holds a pipe on stdin and exits when it closes, and where
 *   util-linux' `setpriv` exists it is also tied to the harness' life by `--pdeathsig KILL`. Their
 *   stderr goes to `<dir>/logs/<node>.log`, and `<dir>/pids.json` names every process of the run.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert, type DcId, type DeliveryMode } from '../core/index.ts';
import { freePorts, startRedisServer, tiedToThisProcess, withoutStadiumEnv } from '../prod/index.ts';
import type { RedisServerProcess } from '../prod/index.ts';
import type { MessageEnd, PlantedBug, Scenario } from '../sim/index.ts';
import { chaosNodeEnv, type ChaosNodeSpec } from './node-spec.ts';
import type { FrontendAddress } from './viewers.ts';

export interface ChaosNode {
  /** `dc-a/frontend-1`, as the simulator names it. */
  name: string;
  dc: DcId;
  role: 'frontend' | 'dispatcher';
  /** Where it listens: viewers and publishers use this. */
  url: string;
  /** Its node id: its proxy's URL when links are proxied, else `url`. */
  publicUrl: string;
  /** Numbers its processes' messages apart from every other node's. */
  slot: number;
  incarnation: number;
  child: ChildProcess | null;
  frozen: boolean;
}

export interface DeploymentOptions {
  scenario: Scenario;
  mode: DeliveryMode;
  /** The run's directory: facts and logs go here. */
  dir: string;
  originUs: number;
  plantBug: PlantedBug | null;
  /** Public ports for proxies (one per node, in node order), or null for direct links. */
  proxied: boolean;
  readyTimeoutMs: number;
  /** Called once the nodes are planned (ports, names) and before any starts: the fault proxies start here. */
  beforeLaunch?: (deployment: ChaosDeployment) => Promise<void>;
  /** Called when a start failed and was stopped: undo what `beforeLaunch` started. */
  onStartFailed?: () => Promise<void>;
}

/** A port found free was taken before a node (or a proxy) could bind it. */
export class PortTakenError extends Error {
  override name = 'PortTakenError';
}

/** Starts tried before a run gives up on finding free ports. */
const startAttemptsMax = 3;

/**
 * How to start a chaos node: this runtime on its sibling node module, compiled (dist/chaos/node.js,
 * in an installed package) or, from the sources, chaos/node.ts with tsx.
 */
const compiled = !import.meta.url.endsWith('.ts');
const nodeCommand = compiled
  ? [process.execPath, join(import.meta.dirname, 'node.js')]
  : [process.execPath, '--import', 'tsx', join(import.meta.dirname, 'node.ts')];
/** Incarnations a node may have before message numbers of two could meet. */
const incarnationsMax = 1_000;
const messagesPerIncarnation = 1_000_000_000;

export class ChaosDeployment {
  readonly nodes: ChaosNode[] = [];
  readonly stores = new Map<DcId, RedisServerProcess>();
  /** Each node's public URL (its node id) -> how the facts name it. */
  readonly names = new Map<string, MessageEnd>();
  private readonly token = randomBytes(16).toString('hex');
  private stopping = false;
  private readonly frozenStores = new Set<DcId>();

  private constructor(private readonly options: DeploymentOptions) {}

  /**
   * Plan ports, start everything, and wait until every node is healthy. Ports are found free and
   * then bound by other processes a moment later, so another process (a parallel test, a second
   * run) may take one in between: then everything is stopped and started again on other ports, up
   * to `startAttemptsMax` times.
   */
  static async start(options: DeploymentOptions): Promise<ChaosDeployment> {
    for (let attempt = 1; ; attempt++) {
      const deployment = new ChaosDeployment(options);
      try {
        await deployment.launchAll();
        return deployment;
      } catch (error) {
        await deployment.stop();
        await options.onStartFailed?.();
        if (attempt >= startAttemptsMax || !(error instanceof PortTakenError)) throw error;
      }
    }
  }

  node(name: string): ChaosNode {
    const node = this.nodes.find((n) => n.name === name);
    assert(node !== undefined, `no node ${name} in this deployment`);
    return node;
  }

  frontendsOf(dc: DcId): FrontendAddress[] {
    return this.nodes
      .filter((n) => n.dc === dc && n.role === 'frontend')
      .map((n) => ({ node: n.name, url: n.url }));
  }

  /** The datacenter's dispatchers that are running and not frozen, as a health-checking balancer sees them. */
  liveDispatchers(dc: DcId): ChaosNode[] {
    return this.nodes.filter((n) => n.dc === dc && n.role === 'dispatcher' && n.child !== null && !n.frozen);
  }

  async kill(name: string): Promise<void> {
    const node = this.node(name);
    const child = node.child;
    if (child === null) return;
    node.child = null;
    node.frozen = false;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  }

  async restart(name: string): Promise<void> {
    const node = this.node(name);
    assert(node.child === null, `${name} is running: kill it first`);
    node.incarnation++;
    this.launch(node);
    await this.healthy(node);
  }

  freeze(name: string): void {
    const node = this.node(name);
    if (node.child === null || node.frozen) return;
    node.frozen = true;
    node.child.kill('SIGSTOP');
  }

  thaw(name: string): void {
    const node = this.node(name);
    if (node.child === null || !node.frozen) return;
    node.frozen = false;
    node.child.kill('SIGCONT');
  }

  async killStore(dc: DcId): Promise<void> {
    await this.stores.get(dc)?.kill();
  }

  async restartStore(dc: DcId): Promise<void> {
    await this.stores.get(dc)?.restart();
    this.writePids();
  }

  /** Stop a datacenter's redis-server without killing it: every request to it goes unanswered. */
  freezeStore(dc: DcId): void {
    const pid = this.stores.get(dc)?.pid();
    if (pid !== undefined && pid > 0) process.kill(pid, 'SIGSTOP');
    this.frozenStores.add(dc);
  }

  thawStore(dc: DcId): void {
    const pid = this.stores.get(dc)?.pid();
    if (pid !== undefined && pid > 0) process.kill(pid, 'SIGCONT');
    this.frozenStores.delete(dc);
  }

  /** Stop every process: nodes first (thawed, SIGTERM, then SIGKILL after a grace), then the stores. */
  async stop(graceMs = 2_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.nodes.map(async (node) => {
        const child = node.child;
        if (child === null) return;
        node.child = null;
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        if (node.frozen) child.kill('SIGCONT');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await gone;
        clearTimeout(timer);
      }),
    );
    for (const dc of [...this.frozenStores]) this.thawStore(dc);
    await Promise.all([...this.stores.values()].map((store) => store.stop()));
    this.stores.clear();
  }

  private async launchAll(): Promise<void> {
    const { scenario, dir } = this.options;
    mkdirSync(join(dir, 'logs'), { recursive: true });
    mkdirSync(join(dir, 'facts'), { recursive: true });
    const dcs = scenario.topology.datacenters;
    const nodeCount = dcs.reduce((n, dc) => n + dc.frontends + dc.dispatchers, 0);
    const ports = await freePorts(
      '127.0.0.1',
      21_000 + Math.floor(Math.random() * 20_000),
      nodeCount * 2 + dcs.length,
    );
    let next = 0;
    const port = (): number => ports[next++] as number;
    for (const dc of dcs) this.stores.set(dc.name, await startRedisServer(port()));
    let slot = 1;
    for (const dc of dcs) {
      const add = (role: ChaosNode['role'], i: number): void => {
        const url = `http://127.0.0.1:${port()}`;
        const publicUrl = this.options.proxied ? `http://127.0.0.1:${port()}` : url;
        const name = `${dc.name}/${role}-${i + 1}`;
        this.nodes.push({
          name,
          dc: dc.name,
          role,
          url,
          publicUrl,
          slot: slot++,
          incarnation: 0,
          child: null,
          frozen: false,
        });
        this.names.set(publicUrl, { id: name, role });
      };
      for (let i = 0; i < dc.dispatchers; i++) add('dispatcher', i);
      for (let i = 0; i < dc.frontends; i++) add('frontend', i);
    }
    try {
      await this.options.beforeLaunch?.(this);
    } catch (error) {
      if (error instanceof Error && /EADDRINUSE|in use/.test(error.message))
        throw new PortTakenError(error.message);
      throw error;
    }
    for (const node of this.nodes) this.launch(node);
    await Promise.all(this.nodes.map((node) => this.healthy(node)));
  }

  /** The facts file of one node's incarnation. */
  factsFile(node: ChaosNode, incarnation = node.incarnation): string {
    return join(this.options.dir, 'facts', `${node.name.replace('/', '_')}.${incarnation}.jsonl`);
  }

  private launch(node: ChaosNode): void {
    const { scenario, mode, originUs, plantBug, dir } = this.options;
    assert(node.incarnation < incarnationsMax, `${node.name} restarted more than ${incarnationsMax} times`);
    const roles = scenario.roles;
    const dcNodes = this.nodes.filter((n) => n.dc === node.dc);
    const peers = this.nodes
      .filter((n) => n.dc !== node.dc && n.role === 'dispatcher')
      .map((n) => `${n.dc}=${n.publicUrl}`)
      .join(',');
    const store = this.stores.get(node.dc);
    const spec: ChaosNodeSpec = {
      self: { id: node.name, role: node.role, dc: node.dc },
      names: [...this.names],
      messageBase: (node.slot * incarnationsMax + node.incarnation) * messagesPerIncarnation,
      originUs,
      factsFile: this.factsFile(node),
      plantBug,
      flags: {
        role: node.role,
        dc: node.dc,
        host: '127.0.0.1',
        port: new URL(node.url).port,
        publicUrl: node.publicUrl,
        mode,
        internalToken: this.token,
        logLevel: 'warn',
        leaseMs: String(roles.leaseMs),
        storeTimeoutMs: String(roles.storeRequestTimeoutMs),
        shutdownGraceMs: '500',
        ...(node.role === 'dispatcher'
          ? {
              store: store?.url ?? 'memory',
              redisPrefix: `chaos:${node.dc}:`,
              ...(peers === '' ? {} : { peers }),
            }
          : {
              dispatchers: dcNodes
                .filter((n) => n.role === 'dispatcher')
                .map((n) => n.publicUrl)
                .join(','),
            }),
      },
      frontendOptions: {
        renewEveryMs: roles.renewEveryMs,
        leaseRequestTimeoutMs: roles.leaseRequestTimeoutMs,
        leaseAttemptsMax: roles.leaseAttemptsMax,
        gapWaitMs: roles.gapWaitMs,
        readTimeoutMs: roles.readTimeoutMs,
      },
      dispatcherOptions: {
        forwardTimeoutMs: roles.forwardTimeoutMs,
        forwardAttemptsMax: roles.forwardAttemptsMax,
        suspectMs: roles.suspectMs,
        storeRebuildWindowMs: roles.renewEveryMs + roles.leaseRequestTimeoutMs,
        deliverTimeoutMs: roles.deliverTimeoutMs,
        deliverAttemptsMax: roles.deliverAttemptsMax,
        forwardWindowMs: roles.forwardWindowMs,
        forwardAckWaitMs: roles.forwardAckWaitMs,
      },
    };
    const [file, ...args] = tiedToThisProcess(nodeCommand);
    const child = spawn(file as string, args, {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...withoutStadiumEnv(process.env), [chaosNodeEnv]: JSON.stringify(spec) },
    });
    const log = createWriteStream(join(dir, 'logs', `${node.name.replace('/', '_')}.log`), { flags: 'a' });
    child.stderr?.pipe(log);
    child.once('exit', (code, signal) => {
      if (node.child === child) node.child = null;
      if (!this.stopping && signal !== 'SIGKILL')
        log.write(`[chaos] ${node.name} exited (${signal ?? `code ${code}`})\n`);
    });
    node.child = child;
    this.writePids();
  }

  /**
   * `<dir>/pids.json`: every process of the run now, nodes by name and stores by datacenter, so a
   * person (or a test) can see what runs and check that nothing outlives the run.
   */
  private writePids(): void {
    const nodes = Object.fromEntries(this.nodes.map((n) => [n.name, n.child?.pid ?? null]));
    const stores = Object.fromEntries([...this.stores].map(([dc, store]) => [dc, store.pid()]));
    writeFileSync(join(this.options.dir, 'pids.json'), `${JSON.stringify({ nodes, stores })}\n`);
  }

  private async healthy(node: ChaosNode): Promise<void> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    while (Date.now() < deadline) {
      if (node.child === null) {
        const log = existsSync(this.logOf(node)) ? readFileSync(this.logOf(node), 'utf8') : '';
        if (/cannot listen|EADDRINUSE/.test(log))
          throw new PortTakenError(`${node.name}'s port was taken before it could listen`);
        throw new Error(`${node.name} exited before it was ready (see ${this.logOf(node)})`);
      }
      try {
        const response = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(
      `${node.name} did not answer ${node.url}/healthz within ${this.options.readyTimeoutMs} ms (see ${this.logOf(node)})`,
    );
  }

  private logOf(node: ChaosNode): string {
    return join(this.options.dir, 'logs', `${node.name.replace('/', '_')}.log`);
  }
}
