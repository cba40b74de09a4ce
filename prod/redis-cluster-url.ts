/** `redis-cluster://[user:password@]host:port,host:port,...`: the seed nodes of a Redis Cluster store. */

export interface RedisClusterUrl {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
}

export const redisClusterScheme = 'redis-cluster://';

export function isRedisClusterUrl(text: string): boolean {
  return text.startsWith(redisClusterScheme);
}

/** The seed nodes and credentials of a `redis-cluster://` URL, or a sentence saying what is wrong. */
export function parseRedisClusterUrl(text: string): RedisClusterUrl | string {
  if (!isRedisClusterUrl(text)) return 'not a redis-cluster:// URL';
  let rest = text.slice(redisClusterScheme.length).replace(/\/$/, '');
  const parsed: RedisClusterUrl = { nodes: [] };
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(':');
    const username = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials);
    const password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) : '';
    if (username !== '') parsed.username = username;
    if (password !== '') parsed.password = password;
  }
  for (const item of rest.split(',')) {
    const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(item.trim());
    const port = Number(match?.[2]);
    if (match === null || port < 1 || port > 65535) return `"${item}" is not HOST:PORT`;
    parsed.nodes.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return parsed;
}
