/**
 * The fault proxies as a run's links: one listener in front of every node, at its public URL, in a
 * process of their own (chaos/proxy-process.ts); every drop a `dropped` fact (the merge completes
 * it from the message's `sent` fact, which its sender wrote).
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { tiedToThisProcess } from '../prod/index.ts';
import type { MessageFacts } from '../sim/index.ts';
import type { LinkFaults } from './faults.ts';
import { chaosProxyEnv, type ProxyCommand, type ProxyProcessSpec, type ProxyReport } from './proxy-spec.ts';
import type { StartLinks } from './run.ts';

/** Compiled (dist/) or a checkout's source, whichever this module is. */
const entry = join(
  import.meta.dirname,
  `proxy-process${import.meta.filename.endsWith('.ts') ? '.ts' : '.js'}`,
);

export const faultProxyLinks: StartLinks = async ({ deployment, seed, emit, runUs, network }) => {
  const spec: ProxyProcessSpec = {
    targets: deployment.nodes.map((node) => ({
      node: node.name,
      dc: node.dc,
      listenPort: Number(new URL(node.publicUrl).port),
      upstream: node.url,
    })),
    names: [...deployment.names].map(([url, end]) => [url, end.id]),
    seed,
    links: {
      intraDc: { latency: network.intraDc.latency, lossPerMillion: network.intraDc.lossPerMillion },
      crossDc: { latency: network.crossDc.latency, lossPerMillion: network.crossDc.lossPerMillion },
    },
  };
  // fork runs `execPath ...execArgv entry`: this runtime (with tsx for a checkout), tied to this process.
  const [execPath, ...execArgv] = tiedToThisProcess([
    process.execPath,
    ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []),
  ]);
  const child = fork(entry, [], {
    execPath: execPath as string,
    execArgv,
    env: { ...process.env, [chaosProxyEnv]: JSON.stringify(spec) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let closed: (() => void) | null = null;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the fault proxy process exited at start (code ${code})`)));
    child.on('message', (report: ProxyReport) => {
      if ('ready' in report) resolve();
      else if ('failed' in report) reject(new Error(`the fault proxies could not start: ${report.failed}`));
      else if ('drop' in report) {
        const { drop } = report;
        if (drop.m === undefined) return;
        const message = { m: drop.m, from: drop.from, to: drop.to } as MessageFacts;
        const f = drop.f === undefined ? {} : { f: drop.f };
        emit({ kind: 'dropped', t: runUs(drop.tUs), message, why: drop.why, ...f });
      } else if ('closed' in report) closed?.();
    });
  });
  const command = (message: ProxyCommand): void => {
    if (child.connected) child.send(message);
  };
  const links: LinkFaults = {
    partition: (...args) => command({ verb: 'partition', args }),
    repair: (...args) => command({ verb: 'repair', args }),
    isolate: (...args) => command({ verb: 'isolate', args }),
    release: (...args) => command({ verb: 'release', args }),
    jitterStorm: (...args) => command({ verb: 'jitterStorm', args }),
    calm: (...args) => command({ verb: 'calm', args }),
    lossBurst: (...args) => command({ verb: 'lossBurst', args }),
    endBurst: (...args) => command({ verb: 'endBurst', args }),
  };
  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const done = new Promise<void>((resolve) => (closed = resolve));
    command({ verb: 'close' });
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    child.kill('SIGKILL');
    await exited;
  };
  return { links, close };
};
