/** Production shells: uWebSockets.js servers and the Redis subscription store around the pure core. */
export type { SubscriptionStorePort, LeaseListener, HistoryListener, HistoryEffect } from './store-port.ts';
export { MemoryStore } from './memory-store.ts';
export { RedisStore } from './redis-store.ts';
export { RedisClusterStore } from './redis-cluster-store.ts';
export type { RedisClusterStoreOptions } from './redis-cluster-store.ts';
export { startRedisServer, tiedToThisProcess } from './redis-server-process.ts';
export { redisClusterAvailable, startRedisCluster } from './redis-cluster-process.ts';
export type { RedisClusterProcess } from './redis-cluster-process.ts';
export type { RedisServerProcess } from './redis-server-process.ts';
export type { RedisStoreOptions } from './redis-store.ts';
export { coreFailureExitCode, startServer, ListenError } from './server.ts';
export type { RunningServer, ServerHooks } from './server.ts';
export type { ServerRoles } from './host-loop.ts';
export { viewerHeader } from './recorder.ts';
export { clientFrame, FrameReader, SseParser, webSocketUpgrade } from './raw-viewers.ts';
export type { Recorder, RecordTag } from './recorder.ts';
export type { Health } from './route-operations.ts';
export {
  camelCase,
  occupancyEveryMsMax,
  occupancyEveryMsMin,
  serveConfigFrom,
  serveOptions,
} from './config.ts';
export type {
  ConfigResult,
  ServeConfig,
  ServeFlags,
  ServeOption,
  Role,
  LogLevel,
  SlowClientPolicy,
} from './config.ts';
export { createLogger } from './log.ts';
export type { Logger } from './log.ts';
export {
  startCluster,
  describeCluster,
  ClusterError,
  dcName,
  freePorts,
  withoutStadiumEnv,
} from './cluster.ts';
export type { ClusterOptions, ClusterDc, ClusterNode, RunningCluster } from './cluster.ts';
export { isRedisClusterUrl, parseRedisClusterUrl } from './redis-cluster-url.ts';
