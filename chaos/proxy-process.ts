/**
 * The fault proxies of a chaos run in a process of their own (chaos/fault-proxy.ts), so the node
 * links never wait behind the harness' own work: a harness holding hundreds of viewers parses
 * thousands of events a second, and proxies sharing its event loop would hold every node message
 * back with them (acknowledgements late, retries, more messages: a collapse no real network has).
 *
 * The harness starts this file with its options in `STADIUM_CHAOS_PROXY` and an IPC channel: it
 * sends fault verbs (`{verb, args}`), and gets `{ready}` once every listener is up and each drop as
 * `{drop}`. The process exits when the channel closes (the harness is gone), and where util-linux'
 * `setpriv` exists it is tied to the harness' life by `--pdeathsig KILL` too.
 */
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { chaosProxyEnv, type ProxyCommand, type ProxyProcessSpec, type ProxyReport } from './proxy-spec.ts';

async function main(): Promise<void> {
  const text = process.env[chaosProxyEnv];
  const send = process.send?.bind(process);
  if (text === undefined || send === undefined) {
    process.stderr.write(
      `chaos proxy: started without ${chaosProxyEnv} and an IPC channel; \`stadium chaos\` starts it\n`,
    );
    process.exit(2);
  }
  const spec = JSON.parse(text) as ProxyProcessSpec;
  const names = new Map(spec.names);
  let proxy: FaultProxy;
  try {
    proxy = await startFaultProxy({
      targets: spec.targets,
      nodeOfUrl: (url) => names.get(url),
      seed: spec.seed,
      ...(spec.links === undefined ? {} : { links: spec.links }),
      onDrop: (drop) => send({ drop } satisfies ProxyReport),
    });
  } catch (error) {
    // A listener's port taken meanwhile, say: the harness decides what to do.
    send({ failed: error instanceof Error ? error.message : String(error) } satisfies ProxyReport, () =>
      process.exit(1),
    );
    return;
  }
  process.on('message', (command: ProxyCommand) => {
    if (command.verb === 'close') {
      void proxy.close().then(() => {
        send({ closed: true } satisfies ProxyReport, () => process.exit(0));
      });
      return;
    }
    (proxy[command.verb] as (...args: unknown[]) => void)(...command.args);
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready: true } satisfies ProxyReport);
}

await main();
