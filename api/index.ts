// Public face of api/: the broker's wire types (all of broker-wire.ts: both sides of the wire use them), the
// error catalog and StraitError, and the broker client. Other folders import only this file.
export { ERROR_CATALOG, ERROR_CODES, type ErrorCode } from './error-catalog.js';
export { StraitError, isStraitError } from './strait-error.js';
export * from './broker-wire.js';
export { BrokerClient, brokerUrls } from './broker-client.js';
export { firstListing, followBroker } from './broker-follow.js';
