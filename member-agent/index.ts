// Public face of member-agent/. Other folders import only this file, and it holds what they use: the CLI's
// commands (node agent, join/leave, member agent, IPAM demo).

// ---- node agent (IPAM API on a unix socket) and the strait-ipam CNI plugin
export { startStandaloneNodeAgent, type RunningNodeAgent, type PodGcOptions } from './node-agent/standalone-agent.js';
export { startBrokerNodeAgent } from './node-agent/broker-node-agent.js';
export { repoRoot } from './node-agent/repo-root.js';

// ---- cluster side: `strait join`/`leave`, the member agent (two-way sync with the broker)
export { joinCluster, leaveCluster } from './cluster/join.js';
export { rotateCredential } from './cluster/rotate-credential.js';
export { MemberAgent } from './cluster/member-agent.js';
export { loadKubeConfig } from './cluster/kube-client.js';
// ---- egress: the live pods and namespaces the gateway and node-steer agents resolve selectors over
export { KubeEgressClusterView, type KubeEgressClusterViewOptions } from './cluster/egress-cluster-view.js';

// ---- install: each component's declared Kubernetes access (its RBAC), the CNI plugin installer
export { allComponentAccess, memberAgentAccess, nodeAgentAccess, gatewayAgentAccess, nodeSteerAccess, MEMBER_AGENT_LEASE } from './cluster/component-access.js';
export { requestAttributes, grantFor, describeRequest, type ComponentAccess, type KubeAccess, type KubeVerb } from './cluster/kube-access.js';
// Tests of the agents that run under a declared access prove each grant was used and nothing refused.
export { accessReport } from './cluster/access-guard.js';
export { STRAIT_NAMESPACE, CREDENTIALS_SECRET } from './cluster/join-plan.js';
export { installCni, uninstallCni, straitConflist, CNI_BINARY_NAME, CONFLIST_NAME, DEFAULT_CNI_SOCKET } from './cni-plugin/cni-install.js';
