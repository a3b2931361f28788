// Test face of gateway/: recording fakes and the conformance suites every implementation must pass. Only tests
// import this file (it pulls in @jest/globals); product code uses the real implementations in the rooms.
export { RecordingNodeRoutes, RecordingNodeEgress, RecordingGatewayEgress, type DatapathCall } from './egress/datapath-fake.js';
export { datapathConformance } from './egress/datapath.conformance.js';
export { ManualProber, SilentResponder } from './failover/prober-fake.js';
export { leaseStoreConformance } from './failover/lease-store.conformance.js';
