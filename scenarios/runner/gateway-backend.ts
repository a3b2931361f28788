import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError, type EgressGatewayPut, type EgressPolicyPut } from '../../api/index.js';
import { gatewayAgentArgv, gatewayFenceSet, nodeSteerArgv, peerId, readAgentStatus, readFenceOnce, type CandidateAddress, type ProfileName } from '../../gateway/index.js';
import { run, runDir } from '../../host/index.js';
import { WireguardDriver, type TunnelType } from '../../tunnel/index.js';
import { executePlan, type LabStepEvent } from '../lab/executor.js';
import { labUp, type Lab } from '../lab/lab.js';
import { hostRebuildSteps, planLab } from '../lab/plan.js';
import type { EipSample, FailoverBackend } from '../model/failover-backend.js';
import { startEchoServers } from '../probes/traffic.js';
import type { Cluster, Topology } from '../topology/model.js';
import { AgentFleet } from './agent-fleet.js';
import { LabBroker, type BrokerView } from './broker-process.js';
import { checkLeaseStoreCount, LabLeaseStores, leaseStoreRtPriority } from './lease-stores.js';
import { gatewayTunnelRoutes } from './tunnel-routes.js';
import { waitUntil } from './wait-until.js';
import { buildWireguardMesh, type WireguardMesh } from './wireguard-mesh.js';

export type { BrokerView } from './broker-process.js';

/** A gateway agent's log in the run directory (and in a report's `logs/`): `<gateway>.gateway.log`. */
export const GATEWAY_LOG_SUFFIX = '.gateway.log';

/**
 * The real failover lab: the topology's clusters (two or more), the broker (broker-process.ts) with its Redis and a
 * separate lease store on the underlay router, a gateway agent (`strait gateway`) on every candidate and the node
 * steering agent (`strait node-steer`) on every worker node (agent-fleet.ts), tunnels of the scenario's type
 * between every candidate and every candidate of the other clusters (built by the agents; or, for WireGuard between
 * two clusters, by the lab with its routes: wireguard-mesh.ts, tunnel-routes.ts), an egress policy for the client
 * pod with one egress IP, and echo servers on a pod of the second cluster and the external host. Faults hit the
 * first cluster's active gateway.
 */

export const EGRESS_IP = '172.31.0.200';
/** The broker pool the egress IP is leased from; the gateway agent's own broker-lease naming (`egress-<gateway>-v4`). */
const EGRESS_POOL = 'egress-lab-egress-v4';
const PRIORITIES = [100, 50, 25, 10];

/** The failover backend of this lab plus its broker. */
export interface GatewayBackend extends FailoverBackend {
  broker: { url: string; view(): Promise<BrokerView> };
}

export interface GatewayBackendOptions {
  topology: Topology;
  profile: ProfileName;
  runId?: string;
  onStep?: (message: string) => void;
  /** The tunnel type between the clusters (the scenario file's `tunnel`); default wireguard. */
  tunnel?: TunnelType;
  /**
   * Who builds the tunnels between the clusters: the gateway agents themselves (`agent`: `--tunnel <type>`, peers
   * and keys from the broker, remote failovers followed by probes) or the lab (`mesh`: WireGuard between two
   * clusters only, one point-to-point device per gateway pair, built outside the agents). Default:
   * $STRAIT_LAB_TUNNELS or `agent`.
   */
  tunnels?: 'agent' | 'mesh';
  /** Teardown copies every daemon's log (agents, broker, Redis) here first, for reading a report afterwards. */
  logsDir?: string;
  /** The gateways' lease stores: 3 (default: a quorum lease) or 1 (the single-store lease, for comparison). */
  leaseStores?: number;
}

/**
 * The cluster's egress objects as its member agent would push them to the broker: an EgressGateway over the
 * cluster's candidates with a one-address pool, and a policy for the client node's pods towards the WAN with no
 * fixed IP — the gateway agents lease it from the broker pool (`egress-lab-egress-v4`, owner
 * `egress:<cluster>:default/client-to-wan`) and follow the objects by watch (`--egress-from-broker`).
 */
function egressObjects(gateways: readonly string[], podCidr: string, wanCidr: string, egressIp: string): { gateway: EgressGatewayPut; policy: EgressPolicyPut } {
  return {
    gateway: { spec: { nodes: [...gateways], ippools: { ipv4: [`${egressIp}-${egressIp}`] } } },
    policy: { spec: { egressGatewayName: 'lab-egress', appliedTo: { podSubnet: [podCidr] }, destSubnet: [wanCidr] } },
  };
}

export async function startGatewayBackend(o: GatewayBackendOptions): Promise<GatewayBackend> {
  const step = o.onStep ?? (() => undefined);
  const topo = o.topology;
  const clusters = topo.clusters;
  const [c1, c2] = clusters;
  if (!c1 || !c2 || c1.gateways.length < 2 || clusters.some((c) => c.gateways.length < 1) || !topo.wan) {
    throw new StraitError('SCENARIO_INVALID', 'the failover lab needs two or more clusters (the first with two gateway candidates, every other with one or more), a WAN and an external host');
  }
  const tunnel: TunnelType = o.tunnel ?? 'wireguard';
  checkLeaseStoreCount(o.leaseStores ?? 1);
  const tunnelMode = o.tunnels ?? (process.env.STRAIT_LAB_TUNNELS === 'mesh' ? 'mesh' : 'agent');
  if (tunnelMode === 'mesh' && (tunnel !== 'wireguard' || clusters.length !== 2)) {
    throw new StraitError('SCENARIO_INVALID', `lab-built tunnels (STRAIT_LAB_TUNNELS=mesh) are WireGuard between two clusters; this scenario has ${tunnel} between ${clusters.length}: unset STRAIT_LAB_TUNNELS so the gateway agents build them`, { tunnel, clusters: clusters.length });
  }
  const ext = topo.hosts.find((h) => h.role === 'external');
  const clientPod = c1.pods[0];
  const remotePod = c2.pods[0];
  const clientNode = topo.hosts.find((h) => h.name === clientPod)?.node;
  if (!ext || !clientPod || !remotePod || !clientNode) throw new StraitError('SCENARIO_INVALID', 'the failover lab needs a pod in each cluster and an external host');

  step(`lab: building ${topo.hosts.length} hosts (${topo.clusters.map((c) => c.name).join(', ')}, ${ext.name})`);
  const lab = await labUp({ topology: topo, ...(o.runId ? { runId: o.runId } : {}), onStep: (_e: LabStepEvent) => undefined });
  const dir = runDir(lab.runId);
  mkdirSync(dir, { recursive: true });
  // The broker and the lease store run on the underlay router, reached over the cluster networks like a real
  // broker: a gateway cut off from its network (link down, partition) cannot renew its lease and must fence itself.
  const router = topo.router ?? 'router';
  const broker = new LabBroker(lab, router, dir);
  const fleet = new AgentFleet(lab);
  // The stores are on the failover path like the agents (a renewal answered late stretches or drops the lease):
  // the profile's SCHED_RR priority, as a deployment would give them a CPU of their own.
  const leaseStores = new LabLeaseStores(lab, router, dir, o.leaseStores ?? 1, leaseStoreRtPriority(o.profile));
  let mesh: WireguardMesh | null = null;
  const leaseUrl = (c: { routerIp?: string }): string[] => leaseStores.urls(c.routerIp ?? '127.0.0.1');
  const clusterOf = (g: string): Cluster => clusters.find((c) => c.gateways.includes(g))!;
  const othersOf = (c: Cluster): Cluster[] => clusters.filter((x) => x !== c);
  const allGateways = clusters.flatMap((c) => c.gateways);
  // Mesh only between two clusters (refused above otherwise): the other cluster of a gateway.
  const otherOf = (g: string): Cluster => othersOf(clusterOf(g))[0]!;
  const stopAll = async (graceMs: number): Promise<void> => {
    await fleet.stopAll(graceMs);
    if (o.logsDir) keepLogs(dir, o.logsDir);
    await mesh?.stop();
    await broker.stop(graceMs);
    await leaseStores.stop(graceMs);
    await lab.down();
  };

  try {
    step(`broker: starting its store (redis-server on the underlay router) and the gateways' lease store${leaseStores.count > 1 ? `s (${leaseStores.count} more, a quorum)` : ' (a second one)'}`);
    // The lease store lives apart from the broker (gateway fencing is a cluster-local matter): a broker restart,
    // Redis included, must not stop an egress IP from moving.
    // A single store fsyncs once a second: Redis write()s the AOF before it replies, so a crashed store process
    // loses no lease (only a host crash could, and a host takes far longer than a lease to come back); fsync per
    // renewal (100/s in the fast profile) stalled renewals by 35+ ms on this VM's disk and let the fence lapse.
    // A quorum's stores keep nothing on disk: a restarted one is guarded instead (lease-stores.ts).
    await leaseStores.start();
    step(`broker: strait broker on ${router} (${clusters.map((c) => LabBroker.urlFor(c)).join(', ')})`);
    await broker.start();
    // Admin: a join token for all clusters, the clusters join (each gets its credential), an egress pool owned
    // by cluster 1. Then cluster 1 (its credential, as its member agent would) pushes its egress objects; the
    // gateway and node agents read them from the broker and lease the egress IP from the pool themselves.
    const creds = await joinClusters(broker, clusters);
    const objs = egressObjects(c1.gateways, c1.nodePodCidrs[clientNode] ?? c1.podCidr, topo.wan.cidr, EGRESS_IP);
    await broker.client().createPool({ name: EGRESS_POOL, cidr: `${EGRESS_IP}/32`, purpose: 'egress', cluster: c1.name, description: 'lab egress IP' });
    const member = broker.clientWith(creds[c1.name]!);
    try {
      await member.putEgressGateway(c1.name, 'lab-egress', objs.gateway);
      await member.putEgressPolicy(c1.name, 'default', 'client-to-wan', objs.policy);
    } finally {
      member.close();
    }
    step(`broker: ${clusters.map((c) => c.name).join(', ')} joined; ${c1.name} pushed EgressGateway lab-egress and EgressPolicy default/client-to-wan (pool ${EGRESS_POOL})`);

    if (tunnelMode === 'mesh') {
      step(`wireguard: ${c1.gateways.length * c2.gateways.length} tunnels between ${c1.name} and ${c2.name} gateway candidates (built by the lab)`);
      mesh = await buildWireguardMesh(lab, c1.gateways, c2.gateways, dir);
    }

    step(`gateways: starting ${allGateways.length} gateway agents (profile ${o.profile}${tunnelMode === 'agent' ? `, ${tunnel} tunnels` : ''})`);
    for (const c of clusters) {
      const cands: CandidateAddress[] = c.gateways.map((g, i) => ({ name: g, address: c.nodeIps[g]!, priority: PRIORITIES[i] ?? 1 }));
      c.gateways.forEach((g, i) => {
        const statusFile = join(dir, `${g}.gateway.json`);
        const tunnelStatusFile = join(dir, `${g}.tunnels.json`);
        const argv = gatewayAgentArgv({
          cluster: c.name,
          name: g,
          priority: PRIORITIES[i] ?? 1,
          runId: lab.runId,
          profile: o.profile,
          candidates: cands,
          leaseRedis: leaseUrl(c),
          broker: LabBroker.urlFor(c),
          ...(creds[c.name] ? { token: creds[c.name] } : {}),
          lanDev: 'eth0',
          ...(c === c1 ? { wanDev: 'eth1', egressFromBroker: true } : {}),
          ...(tunnelMode === 'agent' ? { tunnel, stateDir: join(dir, `${g}.state`), tunnelStatusFile } : {}),
          statusFile,
        });
        // wireguard-go's UAPI socket is global and outlives a SIGKILLed daemon: record it for teardown.
        if (tunnelMode === 'agent' && tunnel === 'wireguard') lab.recordFile(`/var/run/wireguard/${new WireguardDriver({ runId: lab.runId, gatewayId: peerId(c.name, g), localUnderlayIp: '0.0.0.0', underlayDev: 'eth0', localCidrs: [], stateDir: '/' }).ifname}.sock`);
        fleet.add({ host: g, kind: 'gateway', argv, statusFile, log: join(dir, `${g}${GATEWAY_LOG_SUFFIX}`), ...(tunnelMode === 'agent' ? { tunnelStatusFile } : {}) });
      });
    }
    // Node steering on the workers: cross-cluster routes and egress policy routing follow the elected gateway.
    for (const c of clusters) {
      for (const n of c.nodes.filter((n) => !c.gateways.includes(n))) {
        const statusFile = join(dir, `${n}.steer.json`);
        const argv = nodeSteerArgv({
          cluster: c.name,
          name: n,
          runId: lab.runId,
          profile: o.profile,
          candidates: c.gateways.map((g, i) => ({ name: g, address: c.nodeIps[g]!, priority: PRIORITIES[i] ?? 1 })),
          remoteCidrs: othersOf(c).map((x) => x.podCidr),
          dev: 'eth0',
          ...(c === c1 ? { egressFromBroker: true, broker: LabBroker.urlFor(c), ...(creds[c.name] ? { token: creds[c.name] } : {}) } : {}),
          statusFile,
        });
        fleet.add({ host: n, kind: 'steer', argv, statusFile, log: join(dir, `${n}.steer.log`) });
      }
    }
    if (mesh) {
      step('tunnels: routes between the clusters over the WireGuard pairs (replies follow the tunnel a flow came in on)');
      for (const g of allGateways) await gatewayTunnelRoutes(lab, mesh, g, otherOf(g));
    }
    await fleet.startAll();
    if (tunnelMode === 'agent') {
      // Every gateway keeps a session to every gateway of the other clusters, standbys included.
      step(`${tunnel}: the ${allGateways.length} gateway agents build their own tunnels (keys and endpoints via the broker)`);
      // A peer is ready when WireGuard has a handshake (`up`); VXLAN, Geneve and IPsec report `configured` once the
      // peer is programmed (as the agent-tunnels test waits for them).
      const ready = new Set(tunnel === 'wireguard' ? ['up'] : ['up', 'configured']);
      // What is missing, per gateway: the message a failed start-up ends with.
      const missing = (): string[] =>
        allGateways.flatMap((g) => {
          const st = fleet.tunnelStatus(g);
          const remote = othersOf(clusterOf(g)).flatMap((other) => other.gateways.map((r) => ({ r, id: peerId(other.name, r) })));
          const notUp = remote.filter(({ id }) => !st?.tunnel.peers.some((p) => p.id === id && ready.has(p.state)));
          if (notUp.length === 0) return [];
          const states = notUp.map(({ r, id }) => `${r} ${st?.tunnel.peers.find((p) => p.id === id)?.state ?? 'not planned'}`);
          return [`${g}: ${states.join(', ')}${st?.error ? ` (error: ${st.error})` : ''}`];
        });
      await waitUntil('every gateway agent\'s tunnels to be up', 30_000, () => {
        fleet.assertAlive();
        return missing().length === 0;
      }, () => missing().join('; '));
    }

    step(`traffic: echo servers on ${remotePod} and ${ext.name}`);
    await startEchoServers(lab, remotePod, lab.ip(remotePod), join(dir, `${remotePod}.echo.ndjson`));
    await startEchoServers(lab, ext.name, lab.ip(ext.name), join(dir, `${ext.name}.echo.ndjson`));
  } catch (e) {
    // A lab that did not come up is exactly when the logs are wanted (stopAll keeps them first).
    await stopAll(500);
    throw e;
  }

  const nexthops: Record<string, string> = Object.fromEntries(c1.gateways.map((g) => [c1.nodeIps[g]!, g]));
  const activeGateway = async (): Promise<string | null> => {
    const r = await lab.exec(clientNode, ['ip', '-j', 'route', 'get', lab.ip(remotePod)], { allowFailure: true });
    try {
      const j = JSON.parse(r.stdout || '[]') as { gateway?: string }[];
      return nexthops[j[0]?.gateway ?? ''] ?? null;
    } catch {
      return null;
    }
  };
  const eipHolders = async (): Promise<EipSample[]> => {
    const looks = await Promise.all(c1.gateways.map(async (g) => ({ g, look: await readFenceOnce(lab.netns(g), gatewayFenceSet(lab.runId)) })));
    return looks.flatMap(({ g, look }) => (look ? look.elements.map((e) => ({ gateway: g, sampledAt: look.before, ...e })) : []));
  };
  const backend: GatewayBackend = {
    broker: { url: LabBroker.urlFor(c1), view: () => broker.view() },
    lab,
    cluster: c1.name,
    gateways: c1.gateways,
    clientNode,
    clientPod,
    flows: {
      'cross-cluster': { host: remotePod, ip: lab.ip(remotePod), expectedSource: lab.ip(clientPod) },
      egress: { host: ext.name, ip: lab.ip(ext.name), expectedSource: EGRESS_IP },
    },
    eips: [EGRESS_IP],
    steeringRoute: c2.podCidr,
    nexthops,
    gatewayLanDev: 'eth0',
    agentPid: (g) => fleet.gatewayPid(g),
    restartAgent: (g) => fleet.restartGateway(g),
    // The broker crashes: its process and its Redis die with SIGKILL and come back. Redis persists every write, so
    // broker state survives as a real persistent broker store would. The lease store is not the broker's: untouched.
    restartBroker: () => broker.crashAndRestart(),
    leaseStores: leaseStores.stores,
    killLeaseStore: (i) => leaseStores.kill(i),
    restartLeaseStore: (i) => leaseStores.restart(i),
    rebuildGateway: async (g) => {
      await rebuildHost(lab, topo, g);
      if (mesh) {
        await mesh.bringUp(g);
        await gatewayTunnelRoutes(lab, mesh, g, otherOf(g));
      }
      const a = fleet.gateway(g);
      if (a) await fleet.start(a);
    },
    eipHolders,
    activeGateway,
    waitSettled: async (timeoutMs) => {
      await waitUntil('every gateway candidate to be healthy and one of them active', timeoutMs, async () => {
        const st = readAgentStatus(fleet.steer(clientNode)!.statusFile);
        const healthy = st ? c1.gateways.every((g) => st.health[g] === true) : false;
        return healthy && (await activeGateway()) !== null && (await eipHolders()).length > 0;
      });
    },
    down: () => stopAll(1000),
  };
  step('gateways: waiting for election, routes and the egress IP');
  await backend.waitSettled(Number(process.env.STRAIT_SETTLE_MS ?? 60_000)).catch(async (e: unknown) => {
    if (process.env.STRAIT_KEEP_LAB) throw e;
    await backend.down();
    throw e;
  });
  // Every gateway agent publishes itself to the broker (endpoint, priority, health) when it starts.
  await waitUntil(`all ${allGateways.length} gateways to be listed at the broker`, 30_000, async () => {
    const v = await broker.view().catch(() => null);
    return v !== null && allGateways.every((g) => v.gateways.some((x) => x.name === g));
  }).catch(async (e: unknown) => {
    if (process.env.STRAIT_KEEP_LAB) throw e;
    await backend.down();
    throw e;
  });
  // The agents leased the egress IP from the broker pool themselves, under the policy's owner (what GC checks).
  const leases = await broker.client().listAddresses({ pool: EGRESS_POOL }).catch(() => ({ items: [] }));
  const lease = leases.items[0];
  step(lease ? `broker: egress IP ${lease.ip} leased by the gateway agents (owner ${lease.owner})` : `broker: no lease in pool ${EGRESS_POOL} yet`);
  return backend;
}

/** A join token for all the clusters, then each joins (as its member agent would): their credentials by name. */
async function joinClusters(broker: LabBroker, clusters: readonly Cluster[]): Promise<Record<string, string>> {
  const admin = broker.client();
  const t = await admin.createToken({ uses: clusters.length, ttlSeconds: 3600, description: 'failover lab' });
  const creds: Record<string, string> = {};
  for (const c of clusters) creds[c.name] = (await admin.joinCluster({ id: c.name, podCIDRs: [c.podCidr] }, t.token)).credentials.token;
  return creds;
}

/**
 * Builds a host again whose namespace was deleted (node death) from the lab plan: its namespace, its links to the
 * switches, addresses and routes.
 */
async function rebuildHost(lab: Lab, topo: Topology, g: string): Promise<void> {
  const hostNs = lab.netns(g);
  const steps = hostRebuildSteps(planLab(topo, lab.runId), hostNs);
  // The kernel tears a deleted namespace down in the background (node death even defers it to here): the far
  // ends of its veths vanish only then, and creating them again before that fails with "File exists".
  const farEnds = steps.flatMap((s) => (s.kind === 'veth' ? [s.a.netns === hostNs ? s.b : s.a] : []));
  const farEndsGone = async (): Promise<boolean> => {
    for (const e of farEnds) if ((await run(['ip', 'link', 'show', 'dev', e.ifname], { netns: e.netns, allowFailure: true })).code === 0) return false;
    return true;
  };
  // Something may still hold the old namespace (a process that entered it late): then delete the far ends,
  // which takes each veth pair away whatever holds the other end, rather than leave the host unbuilt.
  await waitUntil(`${g}'s old links to be gone`, 5000, farEndsGone).catch(async () => {
    for (const e of farEnds) await run(['ip', 'link', 'del', 'dev', e.ifname], { netns: e.netns, allowFailure: true });
    await waitUntil(`${g}'s old links to be gone (deleted by hand)`, 5000, farEndsGone);
  });
  await executePlan(steps);
}

/** Copies the run directory's logs and tunnel status files to `to`; a failure to copy never stops the teardown. */
function keepLogs(from: string, to: string): void {
  try {
    mkdirSync(to, { recursive: true });
    for (const f of readdirSync(from)) if (f.endsWith('.log') || f.endsWith('.tunnels.json')) copyFileSync(join(from, f), join(to, f));
  } catch {
    // The report is still complete without the logs.
  }
}

