export { startTestRedis, type TestRedis } from './redis-server.js';
export { describeRoot } from './root.js';
