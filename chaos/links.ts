/**
 * The fault proxies as a run's links (chaos/fault-proxy.ts): one listener in front of every node,
 * at its public URL, and every drop a `dropped` fact (the merge completes it from the message's
 * `sent` fact, which its sender wrote).
 */
import type { MessageFacts } from '../sim/index.ts';
import { startFaultProxy } from './fault-proxy.ts';
import type { StartLinks } from './run.ts';

export const faultProxyLinks: StartLinks = async ({ deployment, seed, emit, runUs }) => {
  const proxy = await startFaultProxy({
    targets: deployment.nodes.map((node) => ({
      node: node.name,
      dc: node.dc,
      listenPort: Number(new URL(node.publicUrl).port),
      upstream: node.url,
    })),
    nodeOfUrl: (url) => deployment.names.get(url)?.id,
    seed,
    onDrop: (drop) => {
      if (drop.m === undefined) return;
      const message = { m: drop.m, from: drop.from, to: drop.to } as MessageFacts;
      emit({ kind: 'dropped', t: runUs(drop.tUs), message, why: drop.why, f: drop.f });
    },
  });
  return { links: proxy, close: () => proxy.close() };
};
