import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { gatewayAgentArgv, nodeSteerArgv, peerId, readAgentStatus, straitMainPath, type CandidateAddress, type ProfileName, type TunnelKeeperStatus } from '../../gateway/index.js';
import { isAlive, netnsName, run, runDir, startDaemon, stopPid } from '../../host/index.js';
import { WireguardDriver } from '../../tunnel/index.js';
import { executePlan, type LabStepEvent } from '../lab/executor.js';
import { hostRebuildSteps, planLab } from '../lab/plan.js';
import { labUp } from '../lab/lab.js';
import { gatewayFenceSet, readFenceOnce } from '../probes/fence-reader.js';
import { startEchoServers } from '../probes/traffic.js';
import type { EipSample, FailoverBackend } from '../model/failover-backend.js';
import { buildWireguardMesh, type WireguardMesh } from './wireguard-mesh.js';
import type { Topology } from '../topology/model.js';

/**
 * The real failover lab: two clusters from the topology, a Redis lease store (the broker's), a gateway agent
 * (`strait gateway`) on every candidate, the node steering agent (`strait node-steer`) on every worker node and —
 * for the return path — on every gateway towards the other cluster's candidates, WireGuard between all candidate
 * pairs, an egress policy for the client pod with one egress IP, and echo servers on the remote pod and the
 * external host. Faults hit cluster 1's active gateway.
 */

export const EGRESS_IP = '172.31.0.200';
/** The broker's Redis. */
const LEASE_PORT = 6379;
/** The gateways' lease store: its own Redis, so a broker restart (process and Redis) never touches the leases. */
const LEASE_STORE_PORT = 6380;
const BROKER_PORT = 8443;
/** The broker pool the egress IP is leased from; the gateway agent's own broker-lease naming (`egress-<gateway>-v4`). */
const EGRESS_POOL = 'egress-lab-egress-v4';
/** fwmarks / routing tables for "reply through the tunnel the flow came in on" (one per remote candidate). */
const RET_MARK = 0x5350;
const PRIORITIES = [100, 50, 25, 10];

/** What the broker knows about the gateways: one line for the demo. */
export interface BrokerView {
  clusters: number;
  gateways: { cluster: string; name: string; health: string; priority: number; updatedAt: string }[];
  /** When the broker was asked (epoch ms), to compare with `updatedAt`. */
  at: number;
}

/** The failover backend of this lab plus its broker. */
export interface GatewayBackend extends FailoverBackend {
  broker: { url: string; view(): Promise<BrokerView> };
}

export interface GatewayBackendOptions {
  topology: Topology;
  profile: ProfileName;
  runId?: string;
  onStep?: (message: string) => void;
  /**
   * Who builds the WireGuard tunnels between the clusters: the gateway agents themselves (`agent`: `--tunnel
   * wireguard`, peers and keys from the broker, remote failovers followed by probes) or the lab (`mesh`: one
   * point-to-point device per gateway pair, built outside the agents). Default: $STRAIT_LAB_TUNNELS or `agent`.
   */
  tunnels?: 'agent' | 'mesh';
  /** Teardown copies every daemon's log (agents, broker, Redis) here first, for reading a report afterwards. */
  logsDir?: string;
}

interface Agent {
  host: string;
  argv: string[];
  pid: number | null;
  statusFile: string;
  log: string;
}

/**
 * The cluster's egress objects as its member agent would push them to the broker: an EgressGateway over the
 * cluster's candidates with a one-address pool, and a policy for the client node's pods towards the WAN with no
 * fixed IP — the gateway agents lease it from the broker pool (`egress-lab-egress-v4`, owner
 * `egress:<cluster>:default/client-to-wan`) and follow the objects by watch (`--egress-from-broker`).
 */
function egressObjects(gateways: readonly string[], podCidr: string, wanCidr: string, egressIp: string): { gateway: unknown; policy: unknown } {
  return {
    gateway: { spec: { nodes: [...gateways], ippools: { ipv4: [`${egressIp}-${egressIp}`] } } },
    policy: { spec: { egressGatewayName: 'lab-egress', appliedTo: { podSubnet: [podCidr] }, destSubnet: [wanCidr] } },
  };
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const d = detail?.();
      throw new StraitError('SCENARIO_LAB_FAILED', `timed out after ${timeoutMs} ms waiting for ${what}${d ? `: ${d}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startGatewayBackend(o: GatewayBackendOptions): Promise<GatewayBackend> {
  const step = o.onStep ?? (() => undefined);
  const topo = o.topology;
  const [c1, c2] = topo.clusters;
  if (!c1 || !c2 || c1.gateways.length < 2 || c2.gateways.length < 1 || !topo.wan) {
    throw new StraitError('SCENARIO_INVALID', 'the failover lab needs two clusters (the first with two gateway candidates), a WAN and an external host');
  }
  const ext = topo.hosts.find((h) => h.role === 'external');
  const clientPod = c1.pods[0];
  const remotePod = c2.pods[0];
  const clientNode = topo.hosts.find((h) => h.name === clientPod)?.node;
  if (!ext || !clientPod || !remotePod || !clientNode) throw new StraitError('SCENARIO_INVALID', 'the failover lab needs a pod in each cluster and an external host');

  step(`lab: building ${topo.hosts.length} hosts (${topo.clusters.map((c) => c.name).join(', ')}, ${ext.name})`);
  let phases = 0;
  const lab = await labUp({
    topology: topo,
    ...(o.runId ? { runId: o.runId } : {}),
    onStep: (e: LabStepEvent) => {
      if ('phase' in e && (e as { type?: string }).type === 'phase-done') phases++;
    },
  });
  const dir = runDir(lab.runId);
  mkdirSync(dir, { recursive: true });
  const tunnelMode = o.tunnels ?? (process.env.STRAIT_LAB_TUNNELS === 'mesh' ? 'mesh' : 'agent');
  const agents = new Map<string, Agent>();
  let redisPid: number | null = null;
  let leaseStorePid: number | null = null;
  let brokerPid: number | null = null;
  const adminToken = randomBytes(24).toString('hex');
  const brokerMain = straitMainPath();
  const apiModule = join(dirname(dirname(brokerMain)), 'api', 'index.js');
  let mesh: WireguardMesh | null = null;
  let egressIp: string;
  let creds: Record<string, string> = {};
  // The broker's lease store runs on the underlay router, reached over the cluster networks like a real broker:
  // a gateway cut off from its network (link down, partition) cannot renew its lease and must fence itself.
  const router = topo.router ?? 'router';
  const leaseUrl = (c: { routerIp?: string }): string => `redis://${c.routerIp ?? '127.0.0.1'}:${LEASE_STORE_PORT}`;

  const startRedisOn = async (port: number, name: string, fsync: 'always' | 'everysec', rtPriority = 0): Promise<number> => {
    // Append-only: the broker's state (clusters, tokens, gateways) and the leases survive a restart.
    mkdirSync(join(dir, name), { recursive: true });
    const d = startDaemon([...(rtPriority ? ['chrt', '--rr', String(rtPriority)] : []), 'redis-server', '--port', String(port), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'yes', '--appendfsync', fsync, '--dir', join(dir, name)], {
      netns: lab.netns(router),
      logFile: join(dir, `${name}.log`),
    });
    lab.recordDaemon({ pid: d.pid, name, host: router });
    await waitFor(`${name} (redis-server)`, 15_000, async () => (await lab.exec(router, ['redis-cli', '-p', String(port), 'ping'], { allowFailure: true })).stdout.includes('PONG'));
    return d.pid;
  };
  const startRedis = async (): Promise<void> => {
    redisPid = await startRedisOn(LEASE_PORT, 'broker-redis', 'always');
  };

  const brokerUrl = (c: { routerIp?: string }): string => `http://${c.routerIp ?? '127.0.0.1'}:${BROKER_PORT}`;
  /**
   * Runs `body` (an async function body with a BrokerClient `c` holding the admin token and the JSON `args`) in a
   * node process inside the router namespace — the broker listens only there — and returns its JSON result.
   */
  const brokerAdmin = async <T>(body: string, args: unknown = null): Promise<T> => {
    const code = [
      `import { BrokerClient } from ${JSON.stringify(apiModule)};`,
      `const c = new BrokerClient({ baseUrl: 'http://127.0.0.1:${BROKER_PORT}', token: process.env.STRAIT_ADMIN_TOKEN, timeoutMs: 5000 });`,
      `const args = JSON.parse(process.env.STRAIT_ARGS ?? 'null');`,
      `try { const out = await (async () => { ${body} })(); process.stdout.write(JSON.stringify(out ?? null)); } finally { c.close(); }`,
    ].join('\n');
    const r = await run(['env', `STRAIT_ADMIN_TOKEN=${adminToken}`, `STRAIT_ARGS=${JSON.stringify(args)}`, process.execPath, '--input-type=module', '-e', code], {
      netns: lab.netns(router),
      timeoutMs: 15_000,
    });
    return JSON.parse(r.stdout || 'null') as T;
  };
  const startBrokerProcess = async (): Promise<void> => {
    // Listens on all the router's underlay addresses: each cluster reaches it at its own router address.
    const d = startDaemon(
      [process.execPath, brokerMain, 'broker', '--listen', `0.0.0.0:${BROKER_PORT}`, '--state-dir', join(dir, 'broker'), '--redis', `redis://127.0.0.1:${LEASE_PORT}`],
      { netns: lab.netns(router), logFile: join(dir, 'broker.log'), env: { ...process.env, STRAIT_ADMIN_TOKEN: adminToken } },
    );
    brokerPid = d.pid;
    lab.recordDaemon({ pid: d.pid, name: 'broker', host: router });
    await waitFor('the broker to answer', 20_000, async () => {
      if (!isAlive(d.pid)) throw new StraitError('SCENARIO_LAB_FAILED', `the broker exited; see ${join(dir, 'broker.log')}`);
      return (await brokerAdmin<{ status: string }>('return await c.health();').catch(() => null))?.status !== undefined;
    });
  };
  // Read with curl, not a node process: the demo samples it while the probes run and must not compete for CPU.
  const authHeader = join(dir, 'broker-admin.header');
  writeFileSync(authHeader, `Authorization: Bearer ${adminToken}\n`, { mode: 0o600 });
  const brokerGet = async <T>(path: string): Promise<T> => {
    const r = await run(['curl', '-sS', '--fail', '--max-time', '5', '-H', `@${authHeader}`, `http://127.0.0.1:${BROKER_PORT}${path}`], { netns: lab.netns(router), timeoutMs: 10_000 });
    return JSON.parse(r.stdout) as T;
  };
  const brokerView = async (): Promise<BrokerView> => {
    const at = Date.now();
    const [cl, gw] = await Promise.all([brokerGet<{ items: unknown[] }>('/v1/clusters'), brokerGet<{ items: BrokerView['gateways'] }>('/v1/gateways')]);
    return { at, clusters: cl.items.length, gateways: gw.items.map((g) => ({ cluster: g.cluster, name: g.name, health: g.health, priority: g.priority, updatedAt: g.updatedAt })) };
  };

  /**
   * Gateway routes over the tunnels. Towards the other cluster: via the pair to its first candidate. Replies to
   * flows that came in through a tunnel go back through the same tunnel (conntrack mark → fwmark → per-pair table),
   * so when the other cluster fails over, its flows' replies follow them at once.
   */
  const gatewayTunnelRoutes = async (g: string): Promise<void> => {
    const mine = c1.gateways.includes(g) ? c1 : c2;
    const other = mine === c1 ? c2 : c1;
    const pairs = other.gateways.map((rg, i) => ({ rg, i, dev: mesh!.devOf(g, rg)!, nh: mesh!.peerIp(g, rg)! }));
    await lab.exec(g, ['ip', 'route', 'replace', other.podCidr, 'via', pairs[0]!.nh, 'dev', pairs[0]!.dev]);
    const nft = [`table ip st_${lab.runId}_ret {`, '  chain pre { type filter hook prerouting priority mangle; policy accept;'];
    for (const p of pairs) nft.push(`    iifname "${p.dev}" ct direction original ct mark set ${RET_MARK + p.i}`);
    nft.push('    ct direction reply ct mark != 0 meta mark set ct mark', '  }', '}', '');
    await lab.exec(g, ['nft', '-f', '-'], { input: nft.join('\n') });
    for (const p of pairs) {
      await lab.exec(g, ['ip', 'route', 'replace', other.podCidr, 'via', p.nh, 'dev', p.dev, 'table', String(RET_MARK + p.i)]);
      await lab.exec(g, ['ip', 'rule', 'add', 'fwmark', String(RET_MARK + p.i), 'lookup', String(RET_MARK + p.i), 'pref', String(100 + p.i)], { allowFailure: true });
    }
  };

  // An agent that died while the lab comes up fails the start at once, with the end of its log (a crash's stack).
  const assertAgentsAlive = (): void => {
    for (const a of agents.values()) {
      if (a.pid !== null && !isAlive(a.pid)) {
        throw new StraitError('SCENARIO_LAB_FAILED', `the ${a.argv[2] ?? 'agent'} agent on ${a.host} exited while the lab came up; the end of ${a.log}:\n${logTail(a.log, 12)}`);
      }
    }
  };
  const startAgent = async (a: Agent): Promise<void> => {
    const d = startDaemon(a.argv, { netns: lab.netns(a.host), logFile: a.log });
    a.pid = d.pid;
    lab.recordDaemon({ pid: d.pid, name: a.argv[2] ?? 'agent', host: a.host });
    // Gateways first, each answering probes before the node agents start: node-steer does not rewrite its status
    // file when only a gateway's health changes (no steering change), so a gateway coming up after the node agent
    // can stay "down" in the status the lab waits on.
    if (a.argv[2] === 'gateway') {
      await waitFor(`${a.host} gateway agent to start`, 20_000, () => readAgentStatus(a.statusFile)?.pid === d.pid || !isAlive(d.pid));
    }
  };

  try {
    step('broker: starting its store (redis-server on the underlay router) and the gateways\' lease store (a second one)');
    await startRedis();
    // The lease store lives apart from the broker (gateway fencing is a cluster-local matter): a broker restart,
    // Redis included, must not stop an egress IP from moving.
    // fsync once a second: Redis write()s the AOF before it replies, so a crashed store process loses no lease
    // (only a host crash could, and a host takes far longer than a lease to come back); fsync per renewal (100/s
    // in the fast profile) stalled renewals by 35+ ms on this VM's disk and let the fence lapse.
    // With the fast profile the store is on the failover path like the agents (a renewal answered 35 ms late drops
    // the egress IP): same SCHED_RR priority, as a deployment would give it a CPU of its own.
    leaseStorePid = await startRedisOn(LEASE_STORE_PORT, 'lease-store', 'everysec', o.profile === 'fast' ? 10 : 0);
    step(`broker: strait broker on ${router} (${[c1, c2].map((c) => brokerUrl(c)).join(', ')})`);
    await startBrokerProcess();
    // Admin: a join token for both clusters, the clusters join (each gets its credential), an egress pool owned
    // by cluster 1. Then cluster 1 (its credential, as its member agent would) pushes its egress objects; the
    // gateway and node agents read them from the broker and lease the egress IP from the pool themselves.
    const objs = egressObjects(c1.gateways, c1.nodePodCidrs[clientNode] ?? c1.podCidr, topo.wan.cidr, EGRESS_IP);
    const setup = await brokerAdmin<{ creds: Record<string, string> }>(
      `const t = await c.createToken({ uses: args.clusters.length, ttlSeconds: 3600, description: 'failover lab' });
       const creds = {};
       for (const cl of args.clusters) creds[cl.id] = (await c.joinCluster({ id: cl.id, podCIDRs: cl.podCIDRs }, t.token)).credentials.token;
       const id = args.clusters[0].id;
       await c.createPool({ name: args.pool, cidr: args.eip + '/32', purpose: 'egress', cluster: id, description: 'lab egress IP' });
       const m = new c.constructor({ baseUrl: c.baseUrl, token: creds[id], timeoutMs: 5000 });
       try {
         await m.putEgressGateway(id, 'lab-egress', args.objs.gateway);
         await m.putEgressPolicy(id, 'default', 'client-to-wan', args.objs.policy);
       } finally { m.close(); }
       return { creds };`,
      { clusters: [c1, c2].map((c) => ({ id: c.name, podCIDRs: [c.podCidr] })), pool: EGRESS_POOL, eip: EGRESS_IP, objs },
    );
    // The pool holds one address: whichever agent leases first, the policy's egress IP is this one.
    egressIp = EGRESS_IP;
    creds = setup.creds;
    step(`broker: ${c1.name} and ${c2.name} joined; ${c1.name} pushed EgressGateway lab-egress and EgressPolicy default/client-to-wan (pool ${EGRESS_POOL})`);

    if (tunnelMode === 'mesh') {
      step(`wireguard: ${c1.gateways.length * c2.gateways.length} tunnels between ${c1.name} and ${c2.name} gateway candidates (built by the lab)`);
      mesh = await buildWireguardMesh(lab, c1.gateways, c2.gateways, dir);
    }


    step(`gateways: starting ${c1.gateways.length + c2.gateways.length} gateway agents (profile ${o.profile})`);
    for (const c of [c1, c2]) {
      const cands: CandidateAddress[] = c.gateways.map((g, i) => ({ name: g, address: c.nodeIps[g]!, priority: PRIORITIES[i] ?? 1 }));
      c.gateways.forEach((g, i) => {
        const statusFile = join(dir, `${g}.gateway.json`);
        const argv = gatewayAgentArgv({
          cluster: c.name,
          name: g,
          priority: PRIORITIES[i] ?? 1,
          runId: lab.runId,
          profile: o.profile,
          candidates: cands,
          leaseRedis: leaseUrl(c),
          broker: brokerUrl(c),
          ...(creds[c.name] ? { token: creds[c.name] } : {}),
          lanDev: 'eth0',
          ...(c === c1 ? { wanDev: 'eth1', egressFromBroker: true } : {}),
          ...(tunnelMode === 'agent' ? { tunnel: 'wireguard' as const, stateDir: join(dir, `${g}.state`), tunnelStatusFile: join(dir, `${g}.tunnels.json`) } : {}),
          statusFile,
        });
        // wireguard-go's UAPI socket is global and outlives a SIGKILLed daemon: record it for teardown.
        if (tunnelMode === 'agent') lab.recordFile(`/var/run/wireguard/${new WireguardDriver({ runId: lab.runId, gatewayId: peerId(c.name, g), localUnderlayIp: '0.0.0.0', underlayDev: 'eth0', localCidrs: [], stateDir: '/' }).ifname}.sock`);
        agents.set(`gw:${g}`, { host: g, argv, pid: null, statusFile, log: join(dir, `${g}.gateway.log`) });
      });
    }
    // Node steering on the workers: cross-cluster routes and egress policy routing follow the elected gateway.
    for (const [c, other] of [[c1, c2], [c2, c1]] as const) {
      for (const n of c.nodes.filter((n) => !c.gateways.includes(n))) {
        const statusFile = join(dir, `${n}.steer.json`);
        const argv = nodeSteerArgv({
          cluster: c.name,
          name: n,
          runId: lab.runId,
          profile: o.profile,
          candidates: c.gateways.map((g, i) => ({ name: g, address: c.nodeIps[g]!, priority: PRIORITIES[i] ?? 1 })),
          remoteCidrs: [other.podCidr],
          dev: 'eth0',
          ...(c === c1 ? { egressFromBroker: true, broker: brokerUrl(c), ...(creds[c.name] ? { token: creds[c.name] } : {}) } : {}),
          statusFile,
        });
        agents.set(`steer:${n}`, { host: n, argv, pid: null, statusFile, log: join(dir, `${n}.steer.log`) });
      }
    }
    if (mesh) {
      step('tunnels: routes between the clusters over the WireGuard pairs (replies follow the tunnel a flow came in on)');
      for (const g of [...c1.gateways, ...c2.gateways]) await gatewayTunnelRoutes(g);
    }
    for (const a of agents.values()) if (a.argv[2] === 'gateway') await startAgent(a);
    for (const a of agents.values()) if (a.argv[2] !== 'gateway') await startAgent(a);
    if (tunnelMode === 'agent') {
      // Every gateway keeps a WireGuard session to every gateway of the other cluster, standbys included.
      step(`wireguard: the ${c1.gateways.length + c2.gateways.length} gateway agents build their own tunnels (keys and endpoints via the broker)`);
      const all = [...c1.gateways, ...c2.gateways];
      // What is missing, per gateway: the message a failed start-up ends with.
      const missing = (): string[] =>
        all.flatMap((g) => {
          const other = c1.gateways.includes(g) ? c2 : c1;
          const st = readTunnelStatus(join(dir, `${g}.tunnels.json`));
          const notUp = other.gateways.filter((r) => !st?.tunnel.peers.some((p) => p.id === peerId(other.name, r) && p.state === 'up'));
          if (notUp.length === 0) return [];
          const states = notUp.map((r) => `${r} ${st?.tunnel.peers.find((p) => p.id === peerId(other.name, r))?.state ?? 'not planned'}`);
          return [`${g}: ${states.join(', ')}${st?.error ? ` (error: ${st.error})` : ''}`];
        });
      await waitFor('every gateway agent\'s tunnels to be up', 30_000, () => {
        assertAgentsAlive();
        return missing().length === 0;
      }, () => missing().join('; '));
    }

    step(`traffic: echo servers on ${remotePod} and ${ext.name}`);
    await startEchoServers(lab, remotePod, lab.ip(remotePod), join(dir, `${remotePod}.echo.ndjson`));
    await startEchoServers(lab, ext.name, lab.ip(ext.name), join(dir, `${ext.name}.echo.ndjson`));
  } catch (e) {
    for (const a of agents.values()) if (a.pid) await stopPid(a.pid, 500);
    // A lab that did not come up is exactly when the logs are wanted.
    if (o.logsDir) keepLogs(dir, o.logsDir);
    await mesh?.stop();
    if (brokerPid) await stopPid(brokerPid, 500);
    if (redisPid) await stopPid(redisPid, 500);
    if (leaseStorePid) await stopPid(leaseStorePid, 500);
    await lab.down();
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
    broker: { url: brokerUrl(c1), view: brokerView },
    lab,
    cluster: c1.name,
    gateways: c1.gateways,
    clientNode,
    clientPod,
    flows: {
      'cross-cluster': { host: remotePod, ip: lab.ip(remotePod), expectedSource: lab.ip(clientPod) },
      egress: { host: ext.name, ip: lab.ip(ext.name), expectedSource: egressIp },
    },
    eips: [egressIp],
    steeringRoute: c2.podCidr,
    nexthops,
    gatewayLanDev: 'eth0',
    agentPid: (g) => {
      const a = agents.get(`gw:${g}`);
      return a?.pid && isAlive(a.pid) ? a.pid : null;
    },
    restartAgent: async (g) => {
      const a = agents.get(`gw:${g}`);
      if (!a) return;
      if (a.pid && isAlive(a.pid)) await stopPid(a.pid, 500);
      await startAgent(a);
    },
    // The broker crashes: its process and its Redis die with SIGKILL and come back. Redis persists every write, so
    // broker state survives as a real persistent broker store would. The lease store is not the broker's: untouched.
    restartBroker: async () => {
      for (const pid of [brokerPid, redisPid]) {
        if (!pid) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
        await waitFor('the old broker process to exit', 5000, () => !isAlive(pid));
      }
      await startRedis();
      await startBrokerProcess();
    },
    rebuildGateway: async (g) => {
      const hostNs = netnsName(lab.runId, g);
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
      await waitFor(`${g}'s old links to be gone`, 5000, farEndsGone).catch(async () => {
        for (const e of farEnds) await run(['ip', 'link', 'del', 'dev', e.ifname], { netns: e.netns, allowFailure: true });
        await waitFor(`${g}'s old links to be gone (deleted by hand)`, 5000, farEndsGone);
      });
      await executePlan(steps);
      if (mesh) {
        await mesh.bringUp(g);
        await gatewayTunnelRoutes(g);
      }
      const a = agents.get(`gw:${g}`);
      if (a) await startAgent(a);
    },
    eipHolders,
    activeGateway,
    waitSettled: async (timeoutMs) => {
      await waitFor('every gateway candidate to be healthy and one of them active', timeoutMs, async () => {
        const st = readAgentStatus(agents.get(`steer:${clientNode}`)!.statusFile);
        const healthy = st ? c1.gateways.every((g) => st.health[g] === true) : false;
        return healthy && (await activeGateway()) !== null && (await eipHolders()).length > 0;
      });
    },
    down: async () => {
      for (const a of agents.values()) if (a.pid) await stopPid(a.pid, 1000);
      if (o.logsDir) keepLogs(dir, o.logsDir);
      await mesh?.stop();
      if (brokerPid) await stopPid(brokerPid, 1000);
      if (redisPid) await stopPid(redisPid, 1000);
      if (leaseStorePid) await stopPid(leaseStorePid, 1000);
      await lab.down();
    },
  };
  step('gateways: waiting for election, routes and the egress IP');
  await backend.waitSettled(Number(process.env.STRAIT_SETTLE_MS ?? 60_000)).catch(async (e: unknown) => {
    if (process.env.STRAIT_KEEP_LAB) throw e;
    await backend.down();
    throw e;
  });
  // Every gateway agent publishes itself to the broker (endpoint, priority, health) when it starts.
  const all = [...c1.gateways, ...c2.gateways];
  await waitFor(`all ${all.length} gateways to be listed at the broker`, 30_000, async () => {
    const v = await brokerView().catch(() => null);
    return v !== null && all.every((g) => v.gateways.some((x) => x.name === g));
  }).catch(async (e: unknown) => {
    if (process.env.STRAIT_KEEP_LAB) throw e;
    await backend.down();
    throw e;
  });
  // The agents leased the egress IP from the broker pool themselves, under the policy's owner (what GC checks).
  const leases = await brokerGet<{ items: { ip: string; owner: string }[] }>(`/v1/addresses?pool=${EGRESS_POOL}`).catch(() => ({ items: [] }));
  const lease = leases.items[0];
  step(lease ? `broker: egress IP ${lease.ip} leased by the gateway agents (owner ${lease.owner})` : `broker: no lease in pool ${EGRESS_POOL} yet`);
  void phases;
  return backend;
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

/** The last `n` lines of a daemon's log ('' if unreadable): enough for a crash's message and stack. */
function logTail(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** The tunnel status a gateway agent rewrites (`--tunnel-status-file`), or null before the first. */
function readTunnelStatus(file: string): TunnelKeeperStatus | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TunnelKeeperStatus;
  } catch {
    return null;
  }
}
