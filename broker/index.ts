// Public face of broker/. Other folders import only this file.
export { startBroker, loadAdminToken, parseListen, parseSentinels, type BrokerOptions, type BrokerHandle, type BrokerRole } from './server.js';
export { BrokerStore, NO_REPLICA_ACK, SENTINEL_REPLICA_ACK, type KindObjectMap, type ReplicaAckOptions } from './broker-store.js';
export { defineScripts, readLuaScript, type LuaScript, type ScriptCall } from './store/script-loader.js';
export { KEY, BrokerKeys } from './store/keys.js';
export { createApp, toStraitError, type AppDeps } from './app.js';
export { buildOpenApi } from './openapi.js';
export { ROUTES, type RouteSpec } from './routes.js';
export { initTls, certHash, type TlsFiles } from './tls.js';
export { BrokerJobs, DEFAULT_JOB_SETTINGS, sweepHeartbeats, collectGarbage, collectOwnerless, compactLog, type JobSettings } from './jobs.js';
export { WatchHub } from './watch-hub.js';
export { DEFAULT_EDGE_LIMITS, type EdgeLimits } from './edge-limits.js';
