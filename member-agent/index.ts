// Public face of member-agent/. Other folders import only this file, and it holds what they use: the CLI's
// commands (node agent, join/leave, member agent, IPAM demo).

// ---- node agent (IPAM API on a unix socket) and the strait-ipam CNI plugin
export { startStandaloneNodeAgent, type RunningNodeAgent, type PodGcOptions } from './node-agent/standalone-agent.js';
export { startBrokerNodeAgent } from './node-agent/broker-node-agent.js';
export { runIpamDemo } from './node-agent/ipam-demo.js';

// ---- cluster side: `strait join`/`leave`, the member agent (two-way sync with the broker)
export { joinCluster, leaveCluster } from './cluster/join.js';
export { rotateCredential } from './cluster/rotate-credential.js';
export { MemberAgent } from './cluster/member-agent.js';
export { loadKubeConfig } from './cluster/kube-client.js';
