import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { BrokerClient, StraitError } from '../../api/index.js';
import { installObjects, defaultInstallOptions, serviceAccountName } from '../../deploy/index.js';
import { gatewayAgentArgv, nodeSteerArgv, readAgentStatus, straitMainPath, type CandidateAddress } from '../../gateway/index.js';
import { isAlive, runDir, startDaemon } from '../../host/index.js';
import { allComponentAccess, installCni, joinCluster, loadKubeConfig, STRAIT_NAMESPACE, type KubeAccess } from '../../member-agent/index.js';
import type { Lab, LabExtension } from '../lab/lab.js';
import { currentCmdline } from '../lab/teardown.js';
import { WAN_SEGMENT, type Cluster } from '../topology/model.js';
import { kubeletAccess, kubeletUser } from './kubelet-access.js';

/**
 * `strait lab up --kube`: Kubernetes on top of the lab. Per cluster a test Kubernetes API server (the test server of
 * testing/kube-api-server, as a process), the install manifests' Namespace, CRDs, ServiceAccounts and RBAC applied
 * to it, the cluster joined to one lab broker, its member agent, and on every node of the cluster a broker-mode node
 * agent with the CNI plugin and conflist `strait install-cni` writes, and the lab kubelet (kubelet.ts). A cluster
 * with gateway nodes also gets what the gateway DaemonSet and node-steer DaemonSet run: a gateway agent on each
 * gateway node (labelled `strait.io/gateway=true`) and node steering on each other node, both reading egress from
 * the broker and the pods from the API server with their own ServiceAccounts (egress-agents below). Each
 * component reaches the API server with its own token as its ServiceAccount, and the server refuses (403) what that
 * ServiceAccount's RBAC does not grant. Everything runs on loopback in the root namespace except the CNI plugins,
 * which the kubelet runs in the node's namespace as a container runtime does; every process is recorded with the
 * lab, so `strait lab down` ends it.
 */

/** What `lab up --kube --json` prints under `kube`, also kept in `<run dir>/kube/kube.json`. */
export interface LabKubeInfo {
  /** `adminTokenFile`: the broker's admin token (mode 0600), for tests and `strait pool …` against the lab broker. */
  broker: { url: string; log: string; adminTokenFile: string };
  clusters: Record<string, LabKubeCluster>;
}

export interface LabKubeCluster {
  /** The API server's URL (loopback). */
  server: string;
  /** The lab admin's kubeconfig (all access): use it with kubectl and client-node. */
  kubeconfig: string;
  /** Each identity's kubeconfig: member-agent, node-agent, gateway-agent (ServiceAccounts), kubelet-<node>. */
  kubeconfigs: Record<string, string>;
  nodes: string[];
  logs: string;
  /** Clusters with gateway nodes: the egress agents (see `startEgressAgents`). */
  egress?: LabKubeEgress;
}

export interface LabKubeEgress {
  /**
   * The EgressGateway the gateway agents serve (`--egress-gateway`): `<cluster>-egress`. The lab creates none;
   * create it (and EgressPolicies) with kubectl or client-node, the agents follow them through the broker.
   */
  gatewayName: string;
  /** Per node: the agent it runs, its log and status file (role, epoch, egress IPs, the elected gateway). */
  agents: Record<string, { kind: 'gateway' | 'node-steer'; log: string; status: string }>;
}

export function kubeInfoPath(runId: string): string {
  return join(runDir(runId), 'kube', 'kube.json');
}

/** The `--kube` part of a running lab, or undefined for a lab built without it. */
export function readKubeInfo(runId: string): LabKubeInfo | undefined {
  const p = kubeInfoPath(runId);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as LabKubeInfo) : undefined;
}

/** The dist/ entry of a lab process (built by `npm run build`; the test API server by tsconfig.lab-kube.json). */
function distEntry(rel: string): string {
  const p = join(dirname(straitMainPath()), '..', rel);
  if (!existsSync(p)) throw new StraitError('LAB_BUILD_FAILED', `${p} is missing: run \`npm run build\` first`, { path: p });
  return p;
}

/**
 * How long a lab process may take to answer. A Node process importing client-node took over 30 s to start with the
 * load average at 25 on the 2-core build machine (seen: a kubelet with an empty log after 30 s); patience, not a
 * weaker check: a process that exits still fails the build at once.
 */
const START_MS = 120_000;

async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => s.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitFor(what: string, ms: number, pid: number, log: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await ok()) return;
    if (!isAlive(pid)) throw new StraitError('LAB_BUILD_FAILED', `${what}: the process exited; the end of ${log}:\n${tail(log)}`, { log });
    if (Date.now() > end) throw new StraitError('LAB_BUILD_FAILED', `${what}: not ready after ${ms} ms; the end of ${log}:\n${tail(log)}`, { log });
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-12).join('\n');
  } catch {
    return '';
  }
}

/** Starts a lab process and records it (with its command line, against pid reuse) so `lab down` ends it. */
function daemon(lab: Lab, name: string, argv: string[], logFile: string, env?: NodeJS.ProcessEnv, retitles = false, host?: string): number {
  // Without JEST_WORKER_ID: under Jest the lab's processes inherit it and their loggers go silent (createLogger),
  // which left the kubelet's log empty and its readiness line missing when a test built the lab.
  const { JEST_WORKER_ID: _jest, ...parent } = process.env;
  const d = startDaemon(argv, { logFile, env: { ...parent, ...env }, ...(host ? { netns: lab.netns(host) } : {}) });
  // redis-server rewrites its process title, so its command line at start would not match at `lab down`; a process
  // in a host's namespace starts as `ip netns exec …` and execs: the host's namespace is what `lab down` ends it by.
  const cmdline = retitles || host ? undefined : currentCmdline(d.pid);
  lab.recordDaemon({ pid: d.pid, name, ...(cmdline ? { cmdline } : {}), ...(host ? { host } : {}) });
  return d.pid;
}

const saUser = (component: string): string => `system:serviceaccount:${STRAIT_NAMESPACE}:${serviceAccountName(component)}`;

/** The identities of one cluster's API server: the admin, each component's ServiceAccount, each node's kubelet. */
export function clusterIdentities(nodes: readonly string[]): { file: string; user: string; rules: readonly KubeAccess[] | 'all'; anonymous?: boolean }[] {
  return [
    // kubectl sends no bearer token to a plain-http server: a request without credentials is the admin (loopback).
    { file: 'admin', user: 'lab-admin', rules: 'all', anonymous: true },
    ...allComponentAccess().map((a) => ({ file: a.component, user: saUser(a.component), rules: a.rules })),
    ...nodes.map((n) => ({ file: `kubelet-${n}`, user: kubeletUser(n), rules: kubeletAccess() })),
  ];
}

async function startApiServer(lab: Lab, c: Cluster, dir: string): Promise<LabKubeCluster> {
  mkdirSync(dir, { recursive: true });
  const identities = clusterIdentities(c.nodes);
  const idFile = join(dir, 'identities.json');
  writeFileSync(idFile, JSON.stringify(identities, null, 2));
  const log = join(dir, 'api-server.log');
  const pid = daemon(lab, `kube-api-server-${c.name}`, [process.execPath, distEntry('testing/kube-api-server/daemon-main.js'), '--dir', dir, '--identities', idFile], log);
  await waitFor(`the ${c.name} test API server`, START_MS, pid, log, () => existsSync(join(dir, 'api.pid')));
  return {
    server: readFileSync(join(dir, 'api.url'), 'utf8').trim(),
    kubeconfig: join(dir, 'admin.kubeconfig'),
    kubeconfigs: Object.fromEntries(identities.map((i) => [i.file, join(dir, `${i.file}.kubeconfig`)])),
    nodes: [...c.nodes],
    logs: dir,
  };
}

/**
 * The install manifests as an admin applies them, without the workloads: the lab runs the agents as processes
 * (the test server runs no controllers, so a Deployment or DaemonSet would only be a record).
 */
async function applyInstallObjects(kc: k8s.KubeConfig): Promise<void> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  const objects = installObjects({ ...defaultInstallOptions('lab') }) as k8s.KubernetesObject[];
  for (const o of objects) {
    if (o.kind === 'Deployment' || o.kind === 'DaemonSet') continue;
    try {
      await api.create(o);
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
  }
}

async function startBroker(lab: Lab, dir: string): Promise<{ url: string; admin: BrokerClient; log: string; adminTokenFile: string }> {
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'redis.sock');
  const redisLog = join(dir, 'redis.log');
  const redisPid = daemon(lab, 'broker-redis', ['redis-server', '--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir], redisLog, undefined, true);
  await waitFor('the broker\'s redis-server', 15_000, redisPid, redisLog, () => existsSync(sock));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const adminToken = randomBytes(24).toString('hex');
  const adminTokenFile = join(dir, 'admin-token');
  writeFileSync(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
  const log = join(dir, 'broker.log');
  const pid = daemon(lab, 'broker', [process.execPath, straitMainPath(), 'broker', '--listen', `127.0.0.1:${port}`, '--state-dir', join(dir, 'state'), '--redis', `unix://${sock}`], log, { STRAIT_ADMIN_TOKEN: adminToken });
  const admin = new BrokerClient({ baseUrl: url, token: adminToken, timeoutMs: 5000 });
  await waitFor('the lab broker', START_MS, pid, log, async () => (await admin.health().catch(() => null))?.status !== undefined);
  return { url, admin, log, adminTokenFile };
}

/**
 * The cluster's default pod pool, created the Kubernetes way (an IPPool the member agent pushes to the broker): the
 * top /20 of the cluster's lab pod CIDR (the lab's own netns pods use the low /24s). Node agents start once the
 * broker has it (a broker-mode node agent refuses to start without a pods pool). It names no gateway, as most pools
 * do: its pods' gateway is the subnet's first host address (docs/cni.md), and the egress case proves they get a
 * default route through it and reach beyond their pool.
 */
export function defaultPoolOf(c: Cluster): { name: string; cidr: string } {
  const [a, b] = c.podCidr.split('.');
  return { name: `${c.name}-default`, cidr: `${a}.${b}.240.0/20` };
}

async function createDefaultPool(kc: k8s.KubeConfig, c: Cluster, admin: BrokerClient, timeoutMs: number): Promise<void> {
  const pool = defaultPoolOf(c);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  await api.createClusterCustomObject({
    group: 'ipam.strait.io', version: 'v1alpha1', plural: 'ippools',
    body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name: pool.name }, spec: { cidr: pool.cidr, blockSize: 26, purpose: 'pods', default: true, description: 'the lab cluster default pool' } },
  });
  const end = Date.now() + timeoutMs;
  while (!(await admin.listPools()).items.some((p) => p.name === pool.name)) {
    if (Date.now() > end) throw new StraitError('LAB_BUILD_FAILED', `the IPPool ${pool.name} did not reach the broker within ${timeoutMs} ms (see the member agent's log)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function clusterCredential(kc: k8s.KubeConfig): Promise<string> {
  const s = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ namespace: STRAIT_NAMESPACE, name: 'strait-cluster-credentials' });
  const token = s.data?.token;
  if (!token) throw new StraitError('LAB_BUILD_FAILED', 'the join stored no credential');
  return Buffer.from(token, 'base64').toString('utf8');
}

async function startNode(lab: Lab, c: Cluster, node: string, kube: LabKubeCluster, brokerUrl: string, credential: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'node-agent.sock');
  const binDir = join(dir, 'cni-bin');
  const confDir = join(dir, 'net.d');
  installCni({ binDir, confDir, socketPath: socket });
  const agentLog = join(dir, 'node-agent.log');
  const agent = daemon(lab, `node-agent-${node}`, [
    process.execPath, straitMainPath(), 'node-agent', '--broker', brokerUrl, '--cluster', c.name, '--node-name', node,
    '--socket', socket, '--state-dir', join(dir, 'ipam'), '--kubeconfig', kube.kubeconfigs['node-agent']!,
    // Short periods for a lab: an IPPool created in the cluster reaches the node within about a second.
    '--block-grace', '2', '--pod-gc-grace', '5', '--pod-gc-interval', '1',
  ], agentLog, { STRAIT_BROKER_TOKEN: credential });
  const kubeletLog = join(dir, 'kubelet.log');
  const gateway = c.gateways.includes(node);
  const kubelet = daemon(lab, `kubelet-${node}`, [
    process.execPath, distEntry('scenarios/kubelet/main.js'), '--node', node, '--run-id', lab.runId, '--kubeconfig', kube.kubeconfigs[`kubelet-${node}`]!,
    '--node-netns', lab.netns(node), '--conf-dir', confDir, '--bin-dir', `${binDir},/usr/lib/cni`, '--state-dir', join(dir, 'sandboxes'),
    ...(c.nodeIps[node] ? ['--node-ip', c.nodeIps[node]] : []),
    ...(gateway ? ['--label', 'strait.io/gateway=true'] : []),
  ], kubeletLog);
  await waitFor(`the node agent on ${node}`, START_MS, agent, agentLog, () => existsSync(socket));
  await waitFor(`the kubelet on ${node}`, START_MS, kubelet, kubeletLog, () => readFileSync(kubeletLog, 'utf8').includes('lab kubelet ready'));
}

/**
 * A loopback TCP server of the root namespace (the API server, the broker) reachable at the same `127.0.0.1:port`
 * inside each of `hosts`' namespaces, so the agents there use the very kubeconfig and broker URL the lab prints:
 * one socat here from a Unix socket in the run directory (the file system is shared across namespaces) to the
 * port, and one per host listening on its own loopback and handing each connection to that socket.
 */
function loopbackRelay(lab: Lab, what: string, url: string, hosts: readonly string[], dir: string): void {
  const port = new URL(url).port;
  const sock = join(dir, `${what}-relay.sock`);
  daemon(lab, `${what}-relay`, ['socat', `UNIX-LISTEN:${sock},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${port}`], join(dir, `${what}-relay.log`));
  for (const h of hosts) {
    daemon(lab, `${what}-relay-${h}`, ['socat', `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`], join(dir, h, `${what}-relay.log`), undefined, false, h);
  }
}

/** The device of `host` on the segment `segment` (cluster network or WAN), if it has one. */
function deviceOn(lab: Lab, host: string, segment: (name: string, kind: string) => boolean): string | undefined {
  const segs = new Map(lab.topology.segments.map((x) => [x.name, x.kind]));
  return lab.topology.hosts.find((h) => h.name === host)?.interfaces.find((i) => i.segment !== undefined && segment(i.segment, segs.get(i.segment) ?? ''))?.name;
}

/**
 * Egress in a cluster with gateway nodes, as the install's gateway and node-steer DaemonSets run it: a gateway
 * agent on every gateway node (its LAN and WAN devices, a lease store of its own: one Redis on a Unix socket, the
 * candidates' one store) and node steering on every other node, each in its node's namespace, with the cluster's
 * credential at the broker (`--egress-from-broker`) and its ServiceAccount's kubeconfig for the pods the policies'
 * selectors match. The gateway agents serve the EgressGateway `<cluster>-egress` (`--egress-gateway`, so they start
 * before one exists; the DaemonSet, which has none, waits for one by restarting).
 */
async function startEgressAgents(lab: Lab, c: Cluster, kube: LabKubeCluster, brokerUrl: string, credential: string, dir: string): Promise<LabKubeEgress> {
  const sock = join(dir, 'lease-store.sock');
  const storeLog = join(dir, 'lease-store.log');
  const store = daemon(lab, `lease-store-${c.name}`, ['redis-server', '--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir], storeLog, undefined, true);
  await waitFor(`the ${c.name} gateways' lease store`, 15_000, store, storeLog, () => existsSync(sock));
  loopbackRelay(lab, 'api', kube.server, c.nodes, dir);
  loopbackRelay(lab, 'broker', brokerUrl, c.nodes, dir);
  const candidates: CandidateAddress[] = c.gateways.map((g, i) => ({ name: g, address: c.nodeIps[g]!, priority: 100 - 10 * i }));
  const gatewayName = `${c.name}-egress`;
  const agents: LabKubeEgress['agents'] = {};
  const common = { cluster: c.name, runId: lab.runId, candidates, broker: brokerUrl, token: credential, egressFromBroker: true, clusterCidrs: [c.podCidr] };
  const env = { STRAIT_LOG_LEVEL: 'info' };
  const pids: [string, number][] = [];
  for (const node of c.nodes) {
    const nodeDir = join(dir, node);
    const lan = deviceOn(lab, node, (_, kind) => kind === 'cluster') ?? 'eth0';
    const cand = candidates.find((x) => x.name === node);
    const wan = deviceOn(lab, node, (name) => name === WAN_SEGMENT);
    const kind = cand ? 'gateway' : 'node-steer';
    const a = { kind, log: join(nodeDir, `${kind}.log`), status: join(nodeDir, `${kind}.status.json`) } as const;
    const argv = cand
      ? gatewayAgentArgv({
          ...common, name: node, priority: cand.priority, leaseRedis: sock, lanDev: lan, egressGateway: gatewayName,
          ...(wan ? { wanDev: wan } : {}),
          kubeconfig: kube.kubeconfigs['gateway-agent']!, statusFile: a.status, stateDir: join(nodeDir, 'gateway-state'),
        })
      : nodeSteerArgv({ ...common, name: node, dev: lan, kubeconfig: kube.kubeconfigs['node-steer']!, statusFile: a.status });
    pids.push([node, daemon(lab, `${kind}-${node}`, argv, a.log, env, false, node)]);
    agents[node] = a;
  }
  // Ready when every agent has written its status and one gateway holds the lease (what a test waits for next).
  await Promise.all(pids.map(([node, pid]) => waitFor(`the ${agents[node]!.kind} agent on ${node}`, START_MS, pid, agents[node]!.log, () => readAgentStatus(agents[node]!.status) !== null)));
  const first = pids.find(([n]) => agents[n]!.kind === 'gateway')!;
  await waitFor(`an active gateway in ${c.name}`, START_MS, first[1], agents[first[0]]!.log, () => c.gateways.some((g) => readAgentStatus(agents[g]!.status)?.role === 'active'));
  return { gatewayName, agents };
}

/** The `--kube` extension of `labUp`. */
export function kubeLabExtension(): LabExtension {
  return async (lab) => {
    const base = join(runDir(lab.runId), 'kube');
    mkdirSync(base, { recursive: true });
    const clusters = lab.topology.clusters;
    const apis = await Promise.all(clusters.map((c) => startApiServer(lab, c, join(base, c.name))));
    const broker = await startBroker(lab, join(base, 'broker'));
    try {
      const info: LabKubeInfo = { broker: { url: broker.url, log: broker.log, adminTokenFile: broker.adminTokenFile }, clusters: {} };
      await Promise.all(clusters.map(async (c, i) => {
        const kube = apis[i]!;
        info.clusters[c.name] = kube;
        const kc = loadKubeConfig(kube.kubeconfig);
        await applyInstallObjects(kc);
        const { token } = await broker.admin.createToken({});
        await joinCluster({ kubeConfig: kc, brokerUrl: broker.url, token, clusterId: c.name, podCidrs: [c.podCidr], serviceCidrs: [], say: () => undefined });
        const credential = await clusterCredential(kc);
        const dir = join(base, c.name);
        const memberLog = join(dir, 'member-agent.log');
        daemon(lab, `member-agent-${c.name}`, [process.execPath, straitMainPath(), 'member-agent', '--kubeconfig', kube.kubeconfigs['member-agent']!, '--identity', `${c.name}-member`], memberLog);
        await createDefaultPool(kc, c, broker.admin, START_MS);
        await Promise.all(c.nodes.map((n) => startNode(lab, c, n, kube, broker.url, credential, join(dir, n))));
        // Egress needs a WAN (the gateways' outside leg): a topology with `externals` has one.
        if (c.gateways.length > 0 && lab.topology.wan) kube.egress = await startEgressAgents(lab, c, kube, broker.url, credential, dir);
      }));
      writeFileSync(kubeInfoPath(lab.runId), `${JSON.stringify(info, null, 2)}\n`);
    } finally {
      broker.admin.close();
    }
  };
}
