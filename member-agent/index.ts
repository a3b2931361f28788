// Public face of member-agent/. Other folders import only this file.

// ---- node agent (IPAM API on a unix socket) and the strait-ipam CNI plugin
export { startStandaloneNodeAgent, type StandaloneNodeAgentOptions, type RunningNodeAgent, type PodGcOptions } from './node-agent/standalone-agent.js';
export { NodePodGc, type NodePodGcOptions, type PodGcRound } from './node-agent/pod-gc.js';
export { statefulSetOfPod, podGcCandidates } from './node-agent/pod-gc-plan.js';
export { AgentServer } from './node-agent/agent-server.js';
export type { IpamService, IpamResult, AssignedIp, AddRequest, PodIdentity, Route as CniRoute } from './node-agent/ipam-service.js';
export { EngineIpamService } from './node-agent/engine-ipam-service.js';
export { startBrokerNodeAgent, poolsFromBroker, type BrokerNodeAgentOptions, type RunningBrokerNodeAgent } from './node-agent/broker-node-agent.js';
export { BrokerBlockLeaser, type BlockReconcileResult } from './node-agent/broker-block-leaser.js';
export { handleCniCall } from './node-agent/cni-handler.js';
export { CniLab, bridgeNetconf, firstAddress, repoRoot, REFERENCE_CNI_DIR } from './node-agent/cni-lab.js';
export { startAgentProcess } from './node-agent/agent-process.js';
export { runIpamDemo, type IpamDemoOptions } from './node-agent/ipam-demo.js';
export { CNI_CODE, SUPPORTED_CNI_VERSIONS, DEFAULT_AGENT_SOCKET } from './cni-plugin/cni-spec.js';

// ---- cluster side: `strait join`/`leave`, the member agent (two-way sync with the broker)
export { joinCluster, leaveCluster, readCredentials, type JoinOptions, type JoinResult, type LeaveOptions, type StoredCredentials } from './cluster/join.js';
export { validateJoinInput, podCidrsFromNodes, STRAIT_NAMESPACE, CREDENTIALS_SECRET, CLUSTERSET_NAME, type JoinInput } from './cluster/join-plan.js';
export { MemberAgent, type MemberAgentOptions } from './cluster/member-agent.js';
export { KubeClient, loadKubeConfig, type KubeObject } from './cluster/kube-client.js';
export { installCrds, type CrdInstallResult } from './cluster/crd-installer.js';
export { planSync, gatewayCandidateOf, gatewayCrdName, ORIGIN_LABEL, BROKER_RV_ANNOTATION, SYNC_FINALIZER, GATEWAY_NODE_LABEL, type SyncPlan, type SyncAction, type BrokerView, type ClusterView } from './cluster/sync-plan.js';
export { pinBrokerCa } from './cluster/ca-pinning.js';
