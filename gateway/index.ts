// Public face of gateway/. Other folders import only this file.
//
// For the lab / chaos scenarios (stable API):
//   gatewayAgentArgv(opts) → argv for `node dist/cli/main.js gateway …`; run it with host startDaemon(argv, {netns,
//     logFile, pidFile}) inside a gateway netns so SIGKILL/SIGSTOP hit a real process. nodeSteerArgv(opts) likewise
//     for `strait node-steer` in a node netns. Both need `npm run build` first.
//   readAgentStatus(file) → the JSON the agents rewrite on every change ({role, epoch, egressIps, active, …}).
//   eipFenceLive(netns, runId) → egress IPs a gateway is serving right now (live kernel fence elements): the
//     "is this EIP active on two gateways" check.
//   PROFILES / FailoverProfile: the probe + lease timings behind `--profile default|fast`.
export { PROFILES, PROFILE_NAMES, validateProfile, detectionWindowMs, type FailoverProfile, type ProfileName } from './profiles.js';
export { electActive, rankCandidates, HealthTracker, type Candidate, type CandidateHealth, type ElectionInput, type GatewayMode } from './election.js';
export type { LeaseStore, LeaseRecord } from './lease-store.js';
export { MemoryLeaseStore } from './lease-memory.js';
export { RedisLeaseStore } from './lease-redis.js';
export { LeaseHold, LeaseKeeper, type LeaseStep } from './lease-keeper.js';
export {
  gatewayAgentArgv, nodeSteerArgv, parseCandidate, straitMainPath, DEFAULT_PROBE_PORT,
  type GatewayAgentOptions, type NodeSteerOptions, type CandidateAddress,
} from './agent-argv.js';
export { readAgentStatus, AgentStatusWriter, type AgentStatus } from './agent-status.js';
export { resolveEgress, pickPoolIp, policyKey, EGRESS_MARK_BASE, type EgressInputs, type EgressRule, type ResolvedEgress, type ResolvedGateway, type PendingAllocation, type PodInfo, type NamespaceInfo, type NodeInfo } from './egress-resolve.js';
export type { NodeRoutes, NodeRoutesIntent, NodeEgress, NodeEgressConfig, GatewayEgress, GatewayEgressConfig } from './datapath.js';
export { LinuxNodeRoutes, LinuxNodeEgress, LinuxGatewayEgress, eipFenceLive, type LinuxDatapathOptions } from './datapath-linux.js';
export { RecordingNodeRoutes, RecordingNodeEgress, RecordingGatewayEgress, type DatapathCall } from './datapath-fake.js';
export { EGRESS_VNI, EGRESS_VXLAN_PORT, gatewayVxlanMac } from './vxlan-identity.js';
export { GatewayAgent, type GatewayAgentConfig, type GatewayAgentDeps } from './gateway-agent.js';
export { NodeSteerAgent, type NodeSteerConfig, type NodeSteerDeps } from './node-steer-agent.js';
export { UdpCandidateProber, UdpEchoResponder, type CandidateProber, type EchoResponder, type ProbeTarget } from './candidate-prober.js';
export { parseEgressObjects, resolveEgressFile, type EgressObjects } from './egress-file.js';
export { runGatewayAgent, runNodeSteer, profileByName, type GatewayCliFlags, type NodeSteerCliFlags } from './agent-main.js';
export { planTunnelPeers, remoteActive, peerId, type TunnelPlan, type TunnelPlanInput, type BrokerGatewayView, type BrokerClusterView } from './tunnel-peers.js';
export { TunnelKeeper, type TunnelKeeperOptions, type TunnelKeeperStatus, type TunnelKeeperBroker } from './tunnel-keeper.js';
export { loadTunnelKeys, type GatewayTunnelKeys } from './tunnel-keys.js';
export { EgressBrokerSource, resolveEgressWithLeases, type EgressBrokerSourceOptions, type EgressBrokerClient } from './egress-broker-source.js';
export { egressObjectsFromBroker, egressLeaseOwner, egressPoolName, type BrokerEgressState } from './egress-broker-objects.js';
export { LiveGatewayEgress, LiveNodeEgress, gatewayEgressConfig, type LiveGatewayEgressConfig, type LiveNodeEgressConfig } from './egress-broker-datapath.js';
export { nftInteractive } from './nft-session.js';
