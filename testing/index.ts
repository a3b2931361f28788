export { startTestRedis, type TestRedis } from './redis-server.js';
export { describeRoot } from './root.js';
export { runAllocationStoreConformance, type StoreHarness } from './allocation-store-conformance.js';
export { TestKubeApiServer, startTestKubeApiServer, type TestKubeApiServerOptions, type KubeObject } from './kube-api-server/server.js';
export { seededRandom } from './seeded-random.js';
export { outcomeCode } from './outcome-code.js';
export { redisSnapshot } from './redis-snapshot.js';
export { redisWork, type RedisWork } from './redis-work.js';
export { sleep, waitFor } from '../host/index.js';
export { eventually } from './eventually.js';
// Test doubles that live beside their interfaces, for other rooms' tests (the product faces leave them out).
export { RecordingTunnelDriver, fakeTunnelFactories, type FakeTunnelCall } from '../tunnel/fake-driver.js';
export { startTestBroker, TEST_ADMIN_TOKEN, type TestBroker } from '../broker/testing.js';
export { startTestSentinelGroup, freePort, type TestSentinelGroup, type TestSentinelOptions } from './redis-sentinel.js';
