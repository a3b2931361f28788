// Public face of gateway/. Other folders import only this file, and only what they use: the CLI starts the agents,
// the member agent names egress policies, the lab and the scenarios run agents as real processes and read what
// they did. Everything else (election, leases, the Linux datapath, tunnel planning) stays inside the rooms:
//   failover/  election, candidate probers, leases and the lease keeper, profiles, realtime priority
//   egress/    egress resolution, the datapath per role (node routes, node egress, gateway egress), nft session, GARP,
//              the broker as egress source
//   tunnels/   the gateway's tunnel keeper, peer planning, keys, the egress VXLAN identity
//   agents/    the agent processes (gateway, tunnels) and the argv that starts them
//   node/      route and egress steering on a node (`strait node-steer`)
// Fakes and conformance suites are behind gateway/testing.ts (tests only; product code never imports fakes).
//
// For the lab / chaos scenarios (stable API):
//   gatewayAgentArgv(opts) → argv for `node dist/cli/main.js gateway …`; run it with host startDaemon(argv, {netns,
//     logFile, pidFile}) inside a gateway netns so SIGKILL/SIGSTOP hit a real process. nodeSteerArgv(opts) likewise
//     for `strait node-steer` in a node netns. Both need `npm run build` first.
//   readAgentStatus(file) → the JSON the agents rewrite on every change ({role, epoch, egressIps, active, …}).
//   eipFenceLive(runId, netns?) → egress IPs a gateway is serving right now (live kernel fence elements): the
//     "is this EIP active on two gateways" check. FenceSetReader / readFenceOnce / gatewayFenceSet: the one reader
//     of those sets (a long-lived nft -i, looks of ~1 ms timed to ~1 ms), which eipFenceLive and samplers share.
//   nftInteractive(netns) → argv and env of an interactive nft session as the agent runs it (samplers reuse it).
//   PROFILES / FailoverProfile: the probe + lease timings behind `--profile default|fast`.

// CLI: `strait gateway`, `strait node-steer`.
export { runGatewayAgent, runNodeSteer, type GatewayCliFlags, type NodeSteerCliFlags } from './agents/agent-main.js';
// Labs and scenarios: start agents as processes, read their status, check the fence.
export {
  gatewayAgentArgv, nodeSteerArgv, straitMainPath, DEFAULT_PROBE_PORT,
  type GatewayAgentOptions, type NodeSteerOptions, type CandidateAddress,
} from './agents/agent-argv.js';
export { readAgentStatus, type AgentStatus } from './agents/agent-status.js';
export { eipFenceLive } from './egress/eip-fence.js';
export { FenceSetReader, readFenceOnce, gatewayFenceSet, type FenceLook } from './egress/fence-reader.js';
export { nftInteractive } from './egress/nft-session.js';
export { PROFILES, PROFILE_NAMES, type FailoverProfile, type ProfileName } from './failover/profiles.js';
export { DEFAULT_JITTER_MEMORY_MS } from './failover/recent-max.js';
export { peerId } from './tunnels/tunnel-peers.js';
export type { TunnelKeeperStatus } from './tunnels/tunnel-keeper.js';
// Member agent: the key under which a policy's egress IP is leased.
export { policyKey } from './egress/egress-resolve.js';
// The live pods egress selectors resolve over: the member-agent room implements the view with informers (it owns the
// Kubernetes client) and the CLI hands it to the agents (`AgentClusterAccess`).
export { podInfoOf, namespaceInfoOf, samePodInfo, type EgressClusterView, type PodObject, type NamespaceObject } from './egress/egress-pods.js';
export type { PodInfo, NamespaceInfo } from './egress/egress-resolve.js';
export type { AgentClusterAccess } from './agents/agent-main.js';
