// Public face of scenarios/. Other folders import only this file.
export type {
  TopologySpec,
  ClusterSpec,
  NodeSpec,
  ExternalSpec,
  Topology,
  Cluster,
  Host,
  HostRole,
  Interface,
  Route,
  Segment,
} from './topology/model.js';
export { ROUTER_HOST, WAN_SEGMENT, POD_BRIDGE } from './topology/model.js';
export { resolveTopology, hostAddresses } from './topology/resolve.js';
export { BUILTIN_TOPOLOGIES, BUILTIN_NAMES } from './topology/builtins.js';
export { twoGatewaysTopology, TWO_GATEWAYS_NET, egressTopology, EGRESS_NET, cniNodeTopology, cniPod } from './topology/hand-built.js';
// The hand-built labs of the gateway's and the tunnels' root tests and benches (they live here, not in those rooms,
// so that no product room imports the lab).
export { createTwoGateways, pingOnce, pingUntil, type TwoGateways, type GatewaySide } from './topology/two-gateways-lab.js';
export {
  buildEgressLab, EGRESS_LAB_NET, EGRESS_LAB_CANDIDATES, ECHO_SERVER_JS, SEEN_ECHO_JS, seenSources, PROBER_JS, writeScript, writeEgressConfig, startLabGateway, startLabSteer, type EgressLab,
} from './topology/egress-lab.js';
export { loadTopology, topologyFromText, parseTopologySpec, topologySpecSchema } from './topology/load.js';
export { planLab, stepCommands, describeStep, labNamespaces, switchNetns, SWITCH_BRIDGE, LAB_PHASES } from './lab/plan.js';
export type { LabStep, LabPhase, PlanOptions, IfRef } from './lab/plan.js';
export { executePlan, type LabStepEvent, type StepRunner } from './lab/executor.js';
export { labStatePath, readLabState, type LabState, type LabHostInfo, type LabDaemon } from './lab/state.js';
export { runIdOfNetns, teardownRun, type TeardownOptions, type TeardownReport } from './lab/teardown.js';
export { labUp, labDown, labDownAll, labStatus, labAttach, labHostsOf } from './lab/lab.js';
export type { Lab, LabUpOptions, LabSummary, LabExtension } from './lab/lab.js';
export { findLeftovers, netnsInodes, type Leftovers } from './lab/leftovers.js';
export { realLabRegistry } from './lab/registry.js';
export { createLabTunnel, remoteRoutes, isTunnelType, type LabTunnel } from './lab/tunnel.js';
// Chaos scenarios: model, runner, reports.
export { parseScenario, validateScenario, FAULT_KINDS, TRAFFIC_KINDS, type Scenario, type FaultKind, type Profile } from './model/scenario.js';
export { loadScenario, builtinScenarioNames, scenarioTopology } from './model/scenario-files.js';
export { runScenarioCommand, withFailoverLab, defaultReportDir, type ScenarioRunOptions } from './runner/main.js';
export { runScenario, runTrial, type RunEvent, type RunOptions } from './runner/run.js';
export type { FailoverBackend } from './model/failover-backend.js';
export { jsonOutput } from './report/writer.js';
export type { RunReport, TrialResult, RunSummary } from './report/model.js';
export { runFailoverDemo } from './runner/demo.js';
export { runSteadyCommand, steadyJsonOutput, type SteadyReport } from './runner/steady.js';
export { parseStressSpec, formatStressSpec, startStress, type StressSpec, type StressRecord } from './runner/stress.js';
// `lab up --kube`: a test Kubernetes API server per cluster, the agents against it, the lab kubelet on every node.
export { kubeLabExtension, readKubeInfo, kubeInfoPath, type LabKubeInfo, type LabKubeCluster, type LabKubeEgress } from './kubelet/kube-lab.js';
export { pickConflist, pluginNetconf, podCniArgs } from './kubelet/cni-chain.js';

// The CNI lab (a node's namespaces, the reference plugins, calls as a runtime makes them) and `strait demo-ipam` on it.
export { CniLab, bridgeNetconf, firstAddress, REFERENCE_CNI_DIR, type CniCallOptions, type CniCallResult } from './cni/cni-lab.js';
export { runIpamDemo, type IpamDemoOptions } from './cni/ipam-demo.js';
export { fenceConflicts, type EipConflict, type FenceLookRecord } from './probes/fence-conflicts.js';
