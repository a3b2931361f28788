import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GatewayMode } from '../failover/election.js';
import type { ProfileName } from '../failover/profiles.js';

/** One gateway candidate of a cluster as nodes and peers see it. */
export interface CandidateAddress {
  readonly name: string;
  /** LAN address: probes go here, and it is the VXLAN remote for node → gateway egress traffic. */
  readonly address: string;
  readonly priority: number;
}

export interface GatewayAgentOptions {
  readonly cluster: string;
  readonly name: string;
  readonly priority: number;
  /** Run id: names the nftables table, VXLAN device and status files, so parallel labs never collide. */
  readonly runId: string;
  readonly profile?: ProfileName;
  /** Every candidate of this cluster, this one included (names, LAN addresses, priorities). */
  readonly candidates: readonly CandidateAddress[];
  /**
   * Lease store: `redis://…` or a unix socket path of a Redis of its own; several (3 or 5, each a Redis sharing
   * nothing with the others) make a quorum lease (gateway/failover/lease-quorum.ts).
   */
  readonly leaseRedis: string | readonly string[];
  readonly broker?: string;
  readonly token?: string;
  /** Device facing the outside world (egress IPs live here). */
  readonly wanDev?: string;
  /** Device facing the cluster (VXLAN from nodes arrives here). */
  readonly lanDev?: string;
  /** Egress config file (YAML/JSON: EgressGateway, EgressPolicy, EgressClusterPolicy objects). */
  readonly egressConfig?: string;
  readonly probePort?: number;
  /** The agent rewrites this JSON file on every change (role, epoch, egress IPs); tests and scenarios read it. */
  readonly statusFile?: string;
  /** Cluster-internal CIDRs (never SNATed / steered). */
  readonly clusterCidrs?: readonly string[];
  /** Endpoints published to the broker (default: the candidate address). */
  readonly endpoints?: readonly string[];
  /** Tunnels to the other clusters' gateways, kept by the agent (needs `broker`; the first endpoint is the local end). */
  readonly tunnel?: 'wireguard' | 'vxlan' | 'ipsec' | 'geneve';
  /** Tunnel keys and files (give one carrying the run id in labs). */
  readonly stateDir?: string;
  readonly tunnelKeyFile?: string;
  readonly underlayDev?: string;
  readonly tunnelStatusFile?: string;
  /** Egress objects from the broker (followed by watch) instead of `egressConfig`. */
  readonly egressFromBroker?: boolean;
  readonly egressGateway?: string;
  /** conntrackd state replication between the candidates (default auto: when installed and working). */
  readonly conntrackSync?: 'auto' | 'on' | 'off';
  /** The cluster's API (pods and namespaces for egress selectors). */
  readonly kubeconfig?: string;
}

export interface NodeSteerOptions {
  readonly cluster: string;
  readonly name: string;
  readonly runId: string;
  readonly profile?: ProfileName;
  readonly mode?: GatewayMode;
  readonly candidates: readonly CandidateAddress[];
  /** Remote-cluster CIDRs routed through the active gateway(s). */
  readonly remoteCidrs?: readonly string[];
  /** Underlay device towards the gateways. */
  readonly dev?: string;
  readonly egressConfig?: string;
  readonly probePort?: number;
  readonly statusFile?: string;
  /** Cluster-internal CIDRs: never steered to an egress gateway. */
  readonly clusterCidrs?: readonly string[];
  /** Egress objects from the broker (followed by watch) instead of `egressConfig`: needs `broker` and `token`. */
  readonly egressFromBroker?: boolean;
  readonly broker?: string;
  readonly token?: string;
  /** The cluster's API (this node's pods and the namespaces, for egress selectors). */
  readonly kubeconfig?: string;
  /** false: `--no-masquerade` (the node masquerade is on by default with a broker). */
  readonly masquerade?: boolean;
}

export const DEFAULT_PROBE_PORT = 4801;

/** Path of the built CLI entry (`dist/cli/main.js`), whether this module runs from dist or from source. */
export function straitMainPath(): string {
  const here = dirname(fileURLToPath(import.meta.url)); // <root>/gateway/agents or <root>/dist/gateway/agents
  const root = dirname(dirname(here));
  const main = basename(root) === 'dist' ? join(root, 'cli', 'main.js') : join(root, 'dist', 'cli', 'main.js');
  return main;
}

function candidateArgs(cands: readonly CandidateAddress[]): string[] {
  return cands.flatMap((c) => ['--candidate', `${c.name}=${c.address}@${c.priority}`]);
}

function opt(flag: string, v: string | number | undefined): string[] {
  return v === undefined ? [] : [flag, String(v)];
}

/**
 * argv to run a gateway agent as a real process, e.g. inside a gateway's netns with host `startDaemon(argv,
 * {netns, logFile, pidFile})`, so SIGKILL / SIGSTOP faults hit a real process. Needs `npm run build` first.
 */
export function gatewayAgentArgv(o: GatewayAgentOptions): string[] {
  const main = straitMainPath();
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  return [
    process.execPath, main, 'gateway',
    '--cluster', o.cluster, '--name', o.name, '--priority', String(o.priority), '--run-id', o.runId,
    '--profile', o.profile ?? 'default', '--lease-redis', typeof o.leaseRedis === 'string' ? o.leaseRedis : o.leaseRedis.join(','),
    ...candidateArgs(o.candidates),
    ...opt('--broker', o.broker), ...opt('--token', o.token), ...opt('--wan-dev', o.wanDev), ...opt('--lan-dev', o.lanDev),
    ...opt('--egress-config', o.egressConfig), ...opt('--probe-port', o.probePort), ...opt('--status-file', o.statusFile),
    ...(o.clusterCidrs ?? []).flatMap((c) => ['--cluster-cidr', c]), ...(o.endpoints ?? []).flatMap((e) => ['--endpoint', e]),
    ...opt('--tunnel', o.tunnel), ...opt('--state-dir', o.stateDir), ...opt('--tunnel-key-file', o.tunnelKeyFile),
    ...opt('--underlay-dev', o.underlayDev), ...opt('--tunnel-status-file', o.tunnelStatusFile),
    ...(o.egressFromBroker ? ['--egress-from-broker'] : []), ...opt('--egress-gateway', o.egressGateway),
    ...opt('--conntrack-sync', o.conntrackSync), ...opt('--kubeconfig', o.kubeconfig),
  ];
}

/** argv to run the node steering agent (`strait node-steer`) inside a node's netns. Needs `npm run build` first. */
export function nodeSteerArgv(o: NodeSteerOptions): string[] {
  const main = straitMainPath();
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  return [
    process.execPath, main, 'node-steer',
    '--cluster', o.cluster, '--name', o.name, '--run-id', o.runId, '--profile', o.profile ?? 'default',
    '--mode', o.mode ?? 'active-standby',
    ...candidateArgs(o.candidates),
    ...(o.remoteCidrs ?? []).flatMap((c) => ['--remote-cidr', c]),
    ...opt('--dev', o.dev), ...opt('--egress-config', o.egressConfig), ...opt('--probe-port', o.probePort),
    ...opt('--status-file', o.statusFile), ...(o.clusterCidrs ?? []).flatMap((c) => ['--cluster-cidr', c]),
    ...(o.egressFromBroker ? ['--egress-from-broker'] : []), ...opt('--broker', o.broker), ...opt('--token', o.token),
    ...opt('--kubeconfig', o.kubeconfig), ...(o.masquerade === false ? ['--no-masquerade'] : []),
  ];
}

/** Parses `name=address@priority` (the `--candidate` flag). Returns undefined when malformed. */
export function parseCandidate(s: string): CandidateAddress | undefined {
  const m = /^([A-Za-z0-9._-]+)=([0-9a-fA-F.:]+)@(-?\d+)$/.exec(s);
  if (!m?.[1] || !m[2] || !m[3]) return undefined;
  return { name: m[1], address: m[2], priority: Number(m[3]) };
}
