import { readFileSync } from 'node:fs';
import { BrokerClient, StraitError } from '../../api/index.js';
import { createLogger, runDir, type Logger } from '../../host/index.js';
import { DEFAULT_PROBE_PORT, parseCandidate, type CandidateAddress } from './agent-argv.js';
import { AgentStatusWriter } from './agent-status.js';
import { UdpCandidateProber, UdpEchoResponder } from '../failover/candidate-prober.js';
import { LinuxGatewayEgress } from '../egress/gateway-egress-linux.js';
import { ConntrackSync } from '../egress/conntrack-sync.js';
import { LinuxNodeEgress } from '../egress/node-egress-linux.js';
import { LinuxNodeRoutes } from '../egress/node-routes-linux.js';
import { LinuxNodeMasquerade } from '../egress/node-masquerade-linux.js';
import { normalizeMasqueradeIntent } from '../egress/node-masquerade-nft.js';
import { ClusterNetworkSource } from '../node/cluster-network-source.js';
import { NodeMasqueradeKeeper } from '../node/node-masquerade-keeper.js';
import { gatewayEgressConfig, LiveGatewayEgress, LiveNodeEgress, type LiveNodeEgressConfig } from '../egress/egress-broker-datapath.js';
import { egressLeaseOwner, egressPoolName } from '../egress/egress-broker-objects.js';
import { EgressBrokerSource } from '../egress/egress-broker-source.js';
import { EgressFileSource } from '../egress/egress-file-source.js';
import type { EgressClusterView } from '../egress/egress-pods.js';
import type { ResolvedEgress } from '../egress/egress-resolve.js';
import type { GatewayMode } from '../failover/election.js';
import { GatewayAgent } from './gateway-agent.js';
import { leaseStoreFromFlags, parseLeaseStores } from './lease-store-flags.js';
import { agentTunnels, type AgentTunnels } from './tunnel-main.js';
import { NodeSteerAgent } from '../node/node-steer-agent.js';
import { PROFILES, validateProfile, type FailoverProfile } from '../failover/profiles.js';
import { raiseToRealtime } from '../failover/realtime-priority.js';

/**
 * Composition root for the two agent processes (`strait gateway`, `strait node-steer`): parses and checks the
 * flags, builds the real dependencies (Redis lease store or quorum of stores, Linux datapath, UDP prober/responder, broker client) and
 * runs until SIGTERM/SIGINT, stepping down cleanly (egress IPs dropped, lease released) on the way out.
 */
export interface GatewayCliFlags {
  cluster: string;
  name: string;
  priority: string;
  runId: string;
  profile: string;
  candidate: string[];
  leaseRedis: string;
  broker?: string;
  token?: string;
  wanDev?: string;
  lanDev?: string;
  egressConfig?: string;
  clusterCidr?: string[];
  probePort?: string;
  statusFile?: string;
  endpoint?: string[];
  /** Keep tunnels to the other clusters' gateways (needs --broker): wireguard, vxlan, ipsec or geneve. */
  tunnel?: string;
  /** Tunnel keys (generated on first start, then kept) and driver files. */
  stateDir?: string;
  tunnelKeyFile?: string;
  underlayDev?: string;
  tunnelStatusFile?: string;
  /** Egress objects of this cluster from the broker (followed by watch) instead of a file. */
  egressFromBroker?: boolean;
  /** The EgressGateway this candidate serves (names its lease); default: the first at the broker listing it. */
  egressGateway?: string;
  /**
   * Replicate egress conntrack state to the other candidates with conntrackd (FT-FW): `auto` (default) when it is
   * installed and works here, `on` refuses to start without it, `off` never.
   */
  conntrackSync?: string;
}

export interface NodeSteerCliFlags {
  cluster: string;
  name: string;
  runId: string;
  profile: string;
  mode: string;
  candidate: string[];
  remoteCidr?: string[];
  clusterCidr?: string[];
  dev?: string;
  egressConfig?: string;
  probePort?: string;
  statusFile?: string;
  broker?: string;
  token?: string;
  egressFromBroker?: boolean;
  /** `--no-masquerade` makes it false: the node masquerades nothing (and removes a masquerade an earlier run left). */
  masquerade?: boolean;
}

/** The probe loop for one profile: its interval, and the failure detector's bounds (failure-detector.ts). */
function candidateProber(p: FailoverProfile): UdpCandidateProber {
  return new UdpCandidateProber({ intervalMs: p.probeIntervalMs, misses: p.misses, minDetectionMs: p.minDetectionMs, maxDetectionMs: p.maxDetectionMs });
}

export function profileByName(name: string): FailoverProfile {
  const p = (PROFILES as Record<string, FailoverProfile>)[name];
  if (!p) throw new StraitError('GATEWAY_UNKNOWN_PROFILE', `unknown profile "${name}" (use ${Object.keys(PROFILES).join(' or ')})`, { profile: name });
  const errs = validateProfile(p);
  if (errs.length) throw new StraitError('GATEWAY_INVALID_CONFIG', `profile ${name}: ${errs.join('; ')}`);
  return p;
}

function parseCandidates(list: readonly string[]): CandidateAddress[] {
  const out = list.map((s) => {
    const c = parseCandidate(s);
    if (!c) throw new StraitError('GATEWAY_INVALID_CONFIG', `--candidate ${s}: expected name=address@priority, e.g. gw1=10.50.0.11@100`, { candidate: s });
    return c;
  });
  if (out.length === 0) throw new StraitError('GATEWAY_INVALID_CONFIG', 'give at least one --candidate name=address@priority');
  if (new Set(out.map((c) => c.name)).size !== out.length) throw new StraitError('GATEWAY_INVALID_CONFIG', 'candidate names must be unique');
  return out;
}

function parsePort(s: string | undefined): number {
  if (s === undefined) return DEFAULT_PROBE_PORT;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new StraitError('GATEWAY_INVALID_CONFIG', `--probe-port ${s}: expected 1-65535`);
  return n;
}

/** Healthy while every given device is up (read from /sys, which `ip netns exec` mounts per namespace). */
function operstateOk(devs: readonly (string | undefined)[]): () => boolean {
  const list = devs.filter((d): d is string => Boolean(d));
  return () =>
    list.every((dev) => {
      try {
        const s = readFileSync(`/sys/class/net/${dev}/operstate`, 'utf8').trim();
        return s === 'up' || s === 'unknown';
      } catch {
        return false;
      }
    });
}

/**
 * What the agents reach the cluster's API with (built by the CLI from `--kubeconfig` or the in-cluster config,
 * where the Kubernetes client lives): the live pods and namespaces egress selectors resolve over.
 */
export interface AgentClusterAccess {
  readonly view: EgressClusterView;
}

/**
 * The agent's egress objects, resolved over the live pods and followed: from the broker (`--egress-from-broker`,
 * followed by watch) or from a file (`--egress-config`); undefined when neither is given. Pool IPs from a file are
 * broker address leases when there is a broker, else the lowest free pool IP.
 */
function egressSource(
  f: { egressFromBroker?: boolean; egressConfig?: string; cluster: string; clusterCidr?: string[] },
  broker: BrokerClient | undefined,
  view: EgressClusterView | undefined,
  log: Logger,
  onChange: (r: ResolvedEgress) => Promise<void>,
  follower?: ClusterNetworkSource,
): EgressBrokerSource | EgressFileSource | undefined {
  if (f.egressFromBroker && f.egressConfig) throw new StraitError('GATEWAY_INVALID_CONFIG', 'give --egress-config or --egress-from-broker, not both');
  if (!f.egressFromBroker && !f.egressConfig) return undefined;
  if (!view) log.warn('no --kubeconfig and not in a pod: podSelector / namespaceSelector policies select no pods (podSubnet policies work)');
  const apply = (r: ResolvedEgress): Promise<void> => onChange(r).catch((e: unknown) => log.error({ err: e }, 'applying the new egress resolution failed'));
  const common = { clusterCidrs: f.clusterCidr ?? [], log, onChange: apply, ...(view ? { view } : {}) };
  if (f.egressConfig) {
    const cluster = f.cluster;
    const lease = broker
      ? async (policy: string, gateway: string, family: 'ipv4' | 'ipv6') =>
          (await broker.leaseAddress(egressPoolName(gateway, family), { owner: egressLeaseOwner(cluster, policy), cluster })).ip
      : undefined;
    return new EgressFileSource({ file: f.egressConfig, ...common, ...(lease ? { lease } : {}) });
  }
  if (!broker) throw new StraitError('GATEWAY_INVALID_CONFIG', '--egress-from-broker needs --broker');
  return new EgressBrokerSource({ cluster: f.cluster, broker, ...common, ...(follower ? { follower } : {}) });
}

function statusWriter(file: string | undefined, log: Logger): AgentStatusWriter | undefined {
  return file ? new AgentStatusWriter(file, (e) => log.warn({ err: e, file }, 'writing the status file failed')) : undefined;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

function conntrackSyncMode(v: string | undefined): 'auto' | 'on' | 'off' {
  const mode = v ?? 'auto';
  if (mode !== 'auto' && mode !== 'on' && mode !== 'off') throw new StraitError('GATEWAY_INVALID_CONFIG', `--conntrack-sync ${mode}: expected auto, on or off`, { conntrackSync: mode });
  return mode;
}

/**
 * conntrackd for this candidate when it serves egress and has peers (see conntrack-sync.ts). The sync channel runs
 * between the candidates' LAN addresses; their own traffic (probes, VXLAN, lease store, tunnels) is not replicated.
 */
async function startConntrackSync(
  f: GatewayCliFlags, self: CandidateAddress, candidates: readonly CandidateAddress[], endpoints: readonly string[], log: Logger,
): Promise<ConntrackSync | undefined> {
  const mode = conntrackSyncMode(f.conntrackSync);
  const peers = candidates.filter((c) => c.name !== self.name).map((c) => c.address);
  if (mode === 'off' || peers.length === 0 || !f.lanDev) return undefined;
  const sync = new ConntrackSync({
    log,
    config: {
      runId: f.runId, name: f.name, dir: runDir(f.runId), localAddress: self.address, dev: f.lanDev, peers,
      ignoreAddresses: [...candidates.map((c) => c.address), ...endpoints],
    },
  });
  if (await sync.start()) return sync;
  if (mode === 'on') throw new StraitError('GATEWAY_DATAPATH_FAILED', `--conntrack-sync on: ${sync.reason}`, { reason: sync.reason });
  return undefined;
}

export async function runGatewayAgent(f: GatewayCliFlags, cluster?: AgentClusterAccess): Promise<void> {
  const log = createLogger(`gateway:${f.name}`);
  const profile = profileByName(f.profile);
  parseLeaseStores(f.leaseRedis); // bad flags fail before anything starts
  const status = statusWriter(f.statusFile, log);
  const candidates = parseCandidates(f.candidate);
  const self = candidates.find((c) => c.name === f.name);
  if (!self) throw new StraitError('GATEWAY_INVALID_CONFIG', `--name ${f.name} is not among the --candidate entries`);
  const priority = Number(f.priority);
  if (!Number.isInteger(priority)) throw new StraitError('GATEWAY_INVALID_CONFIG', `--priority ${f.priority}: expected an integer`);
  const probePort = parsePort(f.probePort);
  conntrackSyncMode(f.conntrackSync); // bad input fails before anything starts
  const broker = f.broker ? new BrokerClient({ baseUrl: f.broker, token: f.token, timeoutMs: 3000 }) : undefined;
  if (f.tunnel && !broker) throw new StraitError('GATEWAY_INVALID_CONFIG', '--tunnel needs --broker (the peers come from the broker)');
  const endpoints = f.endpoint?.length ? f.endpoint : [self.address];
  const tunnels: AgentTunnels | undefined =
    f.tunnel && broker
      ? agentTunnels(
          {
            cluster: f.cluster, name: f.name, runId: f.runId, tunnel: f.tunnel,
            stateDir: f.stateDir ?? `/var/lib/strait/gateway/${f.cluster}-${f.name}`,
            endpoint: endpoints[0] ?? self.address,
            ...(f.tunnelKeyFile ? { keyFile: f.tunnelKeyFile } : {}),
            ...(f.underlayDev ? { underlayDev: f.underlayDev } : {}),
            ...(f.tunnelStatusFile ? { statusFile: f.tunnelStatusFile } : {}),
            // The other clusters' gateways, probed like this cluster's nodes probe its candidates (same profile).
            probe: {
              port: probePort, intervalMs: profile.probeIntervalMs, misses: profile.misses, holdDownMs: profile.holdDownMs,
              minDetectionMs: profile.minDetectionMs, maxDetectionMs: profile.maxDetectionMs,
            },
          },
          broker,
          log,
        )
      : undefined;
  // Set once the datapath exists; the source reports changes only after start() returned.
  const ref: { live?: LiveGatewayEgress; egw?: string } = {};
  const source = egressSource(f, broker, cluster?.view, log, async (r) => {
    if (ref.live && ref.egw) await ref.live.update(gatewayEgressConfig(r, ref.egw));
  });
  const resolved = await source?.start();
  const egwName = f.egressGateway ?? resolved?.gateways.find((g) => g.candidates.length === 0 || g.candidates.includes(f.name))?.name;
  const egw = egwName ? (resolved?.gateways.find((g) => g.name === egwName) ?? { name: egwName, candidates: [], egressIps: [] }) : undefined;
  if (source instanceof EgressBrokerSource && !egw) {
    await source.stop();
    throw new StraitError('GATEWAY_INVALID_CONFIG', `no EgressGateway of cluster ${f.cluster} at the broker lists ${f.name}; give --egress-gateway NAME`);
  }
  if (resolved && (!f.wanDev || !f.lanDev)) throw new StraitError('GATEWAY_INVALID_CONFIG', '--egress-config / --egress-from-broker need --wan-dev and --lan-dev');
  const leases = leaseStoreFromFlags(f.leaseRedis, profile, log);
  const linuxEgress = new LinuxGatewayEgress({ runId: f.runId, name: f.name, wanDev: f.wanDev ?? 'none', lanDev: f.lanDev ?? 'none' });
  // The agent's egress config is a live object: new policies at the broker and pods that start or stop matching a
  // selector change its rules and IPs in place.
  // Built from the source's latest resolution: a pod change since start() would otherwise be lost (the source
  // reported it while there was no datapath to update yet).
  const live = source && resolved && egw ? new LiveGatewayEgress(linuxEgress, gatewayEgressConfig(source.resolved ?? resolved, egw.name)) : undefined;
  ref.live = live;
  ref.egw = egw?.name;
  const egress = live ?? linuxEgress;
  // Before the agent can take the egress IPs over: a standby must already be receiving the active one's flows.
  const sync = resolved ? await startConntrackSync(f, self, candidates, endpoints, log) : undefined;
  const agent = new GatewayAgent(
    {
      cluster: f.cluster, name: f.name, profile, probePort,
      candidates: candidates.map((c) => (c.name === f.name ? { ...c, priority } : c)),
      ...(resolved && egw ? { egress: { gateway: egw.name, config: live?.config ?? { rules: resolved.rules.filter((r) => r.gateway === egw.name), egressIps: [...egw.egressIps] } } } : {}),
    },
    {
      leaseStore: leases.store,
      egress,
      prober: candidateProber(profile),
      responder: new UdpEchoResponder({ address: self.address, port: probePort }),
      log,
      selfHealthy: operstateOk([f.wanDev, f.lanDev]),
      ...(status ? { writeStatus: (s) => status.write(s) } : {}),
      ...(broker
        ? {
            publish: async (health, active) => {
              await broker.putGateway(f.cluster, f.name, {
                endpoints, tunnelTypes: [tunnels?.type ?? 'vxlan'], publicKeys: tunnels?.publicKeys ?? {}, priority, health, active,
              });
            },
          }
        : {}),
    },
  );
  try {
    if (profile.realtimePriority) await raiseToRealtime(profile.realtimePriority, log);
    await agent.start();
  } catch (e) {
    await sync?.stop(); // no daemon outlives a start that failed
    throw e;
  }
  log.info({ profile: profile.name, lease: agent.leaseKey, leaseStores: leases.stores, egressIps: egw?.egressIps ?? [] }, 'gateway agent running');
  // Tunnels on every candidate, active or standby: a standby's sessions are established before it takes over.
  // The other clusters' gateways probe this one at its tunnel endpoint: answer there too when it is not the
  // candidate address (answered while this process runs; a killed or frozen agent falls silent).
  const endpointResponder = tunnels && endpoints[0] && endpoints[0] !== self.address ? new UdpEchoResponder({ address: endpoints[0], port: probePort }) : undefined;
  try {
    await endpointResponder?.start();
    await tunnels?.start();
  } catch (e) {
    await endpointResponder?.stop().catch(() => undefined);
    await agent.stop();
    await tunnels?.stop().catch(() => undefined);
    await source?.stop();
    if (resolved) await egress.clear();
    await sync?.stop();
    leases.close();
    broker?.close();
    throw e;
  }
  await waitForSignal();
  await source?.stop();
  await agent.stop();
  await status?.flush();
  await endpointResponder?.stop();
  if (tunnels && broker) {
    await tunnels.stop();
    // Gone from the broker at once: the other clusters' gateways move this cluster's CIDRs to the next candidate
    // now instead of when the record goes stale.
    await broker.deleteGateway(f.cluster, f.name).catch((e: unknown) => log.warn({ err: e }, 'removing the gateway record failed'));
  }
  if (resolved) await egress.clear();
  // Last: until the lease was handed over above, the standby went on receiving this gateway's flow updates.
  await sync?.stop();
  leases.close();
  broker?.close();
}

export async function runNodeSteer(f: NodeSteerCliFlags, cluster?: AgentClusterAccess): Promise<void> {
  const log = createLogger(`node-steer:${f.name}`);
  const profile = profileByName(f.profile);
  const status = statusWriter(f.statusFile, log);
  const candidates = parseCandidates(f.candidate);
  if (f.mode !== 'active-standby' && f.mode !== 'active-active') {
    throw new StraitError('GATEWAY_INVALID_CONFIG', `--mode ${f.mode}: expected active-standby or active-active`);
  }
  const mode: GatewayMode = f.mode;
  const probePort = parsePort(f.probePort);
  const broker = f.broker ? new BrokerClient({ baseUrl: f.broker, token: f.token, timeoutMs: 3000 }) : undefined;
  const masq = await nodeMasquerade(f, broker, log);
  const ref: { live?: LiveNodeEgress } = {};
  // The node resolves over its own pods only (the view the CLI built for it watches spec.nodeName): it steers
  // only traffic its pods send. Pool IPs do not matter on a node (it steers, the gateway translates).
  const source = egressSource(f, f.egressFromBroker ? broker : undefined, cluster?.view, log, async (r) => {
    await ref.live?.update(r.rules);
    await masq?.keeper.setEgressRules(r.rules);
  }, masq?.source);
  const resolved = await source?.start();
  if (masq) {
    // The marks first (nothing is installed before the networks are known), then the first masquerade. With the
    // egress objects from the broker, the networks follow that source's watch (one watch per node).
    await masq.keeper.setEgressRules((source?.resolved ?? resolved)?.rules ?? []);
    await masq.keeper.setNetworks(await masq.source.start({ ownWatch: !(source instanceof EgressBrokerSource) }));
  }
  if ((resolved || (f.remoteCidr ?? []).length) && !f.dev) throw new StraitError('GATEWAY_INVALID_CONFIG', 'give --dev (the underlay device towards the gateways)');
  const o = { runId: f.runId, dev: f.dev ?? 'none' };
  const routes = new LinuxNodeRoutes(o);
  const linuxEgress = new LinuxNodeEgress(o);
  const egressCfg: LiveNodeEgressConfig | undefined = resolved ? { rules: [...(source?.resolved ?? resolved).rules], candidates: [...candidates], clusterCidrs: [...(f.clusterCidr ?? [])] } : undefined;
  const live = source && egressCfg ? new LiveNodeEgress(linuxEgress, egressCfg) : undefined;
  ref.live = live;
  const egress = live ?? linuxEgress;
  const agent = new NodeSteerAgent(
    {
      cluster: f.cluster, name: f.name, profile, mode, candidates, probePort, remoteCidrs: f.remoteCidr ?? [],
      ...(egressCfg ? { egress: egressCfg } : {}),
    },
    {
      routes, egress, log,
      prober: candidateProber(profile),
      ...(f.statusFile || live
        ? {
            writeStatus: (s) => {
              // Rules that appear later are steered to the candidate the agent chose last.
              live?.noteActive(s.active[0]);
              status?.write(s);
            },
          }
        : {}),
    },
  );
  if (profile.realtimePriority) await raiseToRealtime(profile.realtimePriority, log);
  await agent.start();
  log.info({ profile: profile.name, mode, candidates: candidates.map((c) => c.name) }, 'node steering running');
  await waitForSignal();
  await source?.stop();
  // The masquerade stays: pods' flows to the outside keep their translation through a restart (a rollout of the
  // DaemonSet); the next start takes the table over.
  await masq?.source.stop();
  await agent.stop();
  await status?.flush();
  if (resolved) await egress.clear();
  if ((f.remoteCidr ?? []).length) await routes.clear();
  broker?.close();
}

/**
 * The node masquerade (docs/cni.md): on by default with a broker (this cluster's pod CIDRs and every cluster's
 * CIDRs come from it, followed); `--no-masquerade` removes one an earlier run left and installs none.
 */
async function nodeMasquerade(f: NodeSteerCliFlags, broker: BrokerClient | undefined, log: Logger): Promise<{ keeper: NodeMasqueradeKeeper; source: ClusterNetworkSource } | undefined> {
  const staticClusterCidrs = [...(f.clusterCidr ?? []), ...(f.remoteCidr ?? [])];
  try {
    normalizeMasqueradeIntent({ podCidrs: [], clusterCidrs: staticClusterCidrs, egressMarks: [] });
  } catch (e) {
    throw new StraitError('GATEWAY_INVALID_CONFIG', `--cluster-cidr / --remote-cidr: ${(e as Error).message}`);
  }
  const datapath = new LinuxNodeMasquerade({ runId: f.runId });
  if (f.masquerade === false) {
    await datapath.clear();
    log.info('--no-masquerade: pods\' traffic leaves this node with their own addresses');
    return undefined;
  }
  if (!broker) {
    log.info('no --broker: the clusters\' pod CIDRs are unknown, so the node masquerades nothing');
    return undefined;
  }
  const keeper = new NodeMasqueradeKeeper({ cluster: f.cluster, staticClusterCidrs, datapath, log });
  const source = new ClusterNetworkSource({ broker, log, onChange: (n) => keeper.setNetworks(n) });
  return { keeper, source };
}
