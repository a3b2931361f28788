// Public face of member-agent/. Other folders import only this file.

// ---- node agent (IPAM API on a unix socket) and the strait-ipam CNI plugin
export { startStandaloneNodeAgent, type StandaloneNodeAgentOptions, type RunningNodeAgent } from './node-agent/standalone-agent.js';
export { AgentServer } from './node-agent/agent-server.js';
export type { IpamService, IpamResult, AssignedIp, AddRequest, PodIdentity, Route as CniRoute } from './node-agent/ipam-service.js';
export { EngineIpamService } from './node-agent/engine-ipam-service.js';
export { withBlockSource, type BlockSource } from './node-agent/block-source.js';
export { handleCniCall } from './node-agent/cni-handler.js';
export { CniLab, bridgeNetconf, firstAddress, repoRoot, REFERENCE_CNI_DIR } from './node-agent/cni-lab.js';
export { startAgentProcess } from './node-agent/agent-process.js';
export { runIpamDemo, type IpamDemoOptions } from './node-agent/ipam-demo.js';
export { CNI_CODE, SUPPORTED_CNI_VERSIONS, DEFAULT_AGENT_SOCKET } from './cni-plugin/cni-spec.js';
