export { ERROR_CATALOG, ERROR_CODES, type ErrorCode, type ErrorSpec } from './error-catalog.js';
export { StraitError, isStraitError } from './strait-error.js';
export * from './broker-wire.js';
export { BrokerClient, type BrokerClientOptions } from './broker-client.js';
export { followBroker, type FollowBrokerOptions } from './broker-follow.js';
