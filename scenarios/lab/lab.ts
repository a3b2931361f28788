import { spawn, type ChildProcess } from 'node:child_process';
import { StraitError } from '../../api/index.js';
import {
  RUN_ID_PATTERN,
  deleteNetns,
  isAlive,
  listNetns,
  netnsName,
  newRunId,
  pidsInNetns,
  run,
  stopPid,
  withNetns,
  type ExecOptions,
  type ExecResult,
} from '../../host/index.js';
import { executePlan, throwIfAborted, type LabStepEvent } from './executor.js';
import { labNamespaces, planLab, type PlanOptions } from './plan.js';
import { listLabStateIds, readLabState, writeLabState, type LabDaemon, type LabHostInfo, type LabState } from './state.js';
import { runIdOfNetns, teardownRun, type TeardownOptions, type TeardownReport } from './teardown.js';
import { loadTopology } from '../topology/load.js';
import type { Host, Topology } from '../topology/model.js';
import { hostAddresses } from '../topology/resolve.js';
import { applyHostRoutes, createLabTunnel, isTunnelType, remoteRoutes, type IpsecAuth, type LabTunnel } from './tunnel.js';
import { TUNNEL_TYPES, type TunnelRegistry } from '../../tunnel/index.js';

export interface LabUpOptions {
  /** A resolved topology, or a built-in name / file path. */
  topology: Topology | string;
  /** Tunnel type to build between the clusters' active gateways (see tunnel.ts). */
  tunnel?: string;
  runId?: string;
  onStep?: (e: LabStepEvent) => void;
  /** Extra planner options (pod MTU, checksum offload); the tunnel sets these itself when given. */
  plan?: PlanOptions;
  /** Tunnel drivers to use with `tunnel` (the composition root builds it; default: the real Linux drivers). */
  registry?: TunnelRegistry;
  /** How long to wait for pods to reach each other across the tunnels (default 30 s). */
  readyTimeoutMs?: number;
  /** IPsec authentication between the lab's gateways (default `psk`, one secret per pair of clusters). */
  ipsecAuth?: IpsecAuth;
  /** Aborting stops the build at the next step and rolls back everything created (LAB_BUILD_FAILED). */
  signal?: AbortSignal;
}

export interface Lab {
  readonly runId: string;
  readonly topology: Topology;
  readonly hosts: Readonly<Record<string, LabHostInfo>>;
  /** The tunnels between the clusters' active gateways, when built with `tunnel`. */
  readonly tunnel?: LabTunnel;
  /** Wall time of `labUp` in ms and per phase. */
  readonly setupMs: number;
  readonly timings: Readonly<Record<string, number>>;
  /** The host's info; throws LAB_HOST_NOT_FOUND for a name the topology lacks. */
  host(name: string): LabHostInfo & { name: string };
  /** The host's first address (pods: eth0; nodes: cluster network; externals: WAN). */
  ip(name: string): string;
  netns(name: string): string;
  /** Runs a command inside a host's namespace (no shell). */
  exec(host: string, argv: readonly string[], opts?: Omit<ExecOptions, 'netns'>): Promise<ExecResult>;
  /** Starts a long-running command inside a host (stdout/stderr piped to the caller). `down()` ends it if still running. */
  spawn(host: string, argv: readonly string[]): ChildProcess;
  /** Records a daemon started for this lab so `down` (even after a crash) ends it. */
  recordDaemon(d: LabDaemon): void;
  /** Records a file outside the run dir that carries the run id (removed by `down`). */
  recordFile(path: string): void;
  /**
   * Adds a host to the running lab (a CNI pod that comes and goes): recorded first, so `down` removes it even if
   * its build fails half-way, then planned and executed like the rest. Only a host whose links stay inside it
   * (a plugin or test wires it to the others).
   */
  addHost(h: Host): Promise<LabHostInfo & { name: string }>;
  /** Ends the host's processes and removes its namespace (with its links); a host already gone is fine. */
  removeHost(name: string): Promise<void>;
  /** Ends the lab; `keepRunDir` keeps its run directory (a failed test's logs) for `strait lab down <run>`. */
  down(opts?: TeardownOptions): Promise<TeardownReport>;
}

function hostInfo(runId: string, h: Host): LabHostInfo {
  return { netns: netnsName(runId, h.name), addresses: hostAddresses(h), role: h.role, ...(h.cluster ? { cluster: h.cluster } : {}) };
}

export function labHostsOf(topology: Topology, runId: string): Record<string, LabHostInfo> {
  return Object.fromEntries(topology.hosts.map((h) => [h.name, hostInfo(runId, h)]));
}

/** Hook the tunnel layer plugs into (kept as a parameter so the lab core does not import tunnel code). */
export type LabExtension = (lab: Lab, state: { update(fn: (s: LabState) => void): void }) => Promise<void>;

async function checkRunIdFree(runId: string): Promise<void> {
  const inUse = readLabState(runId) !== undefined || (await listNetns()).some((n) => n.startsWith(`st-${runId}-`));
  if (inUse) throw new StraitError('LAB_RUN_EXISTS', `run id ${runId} is already in use`, { runId });
}

/**
 * Builds a lab: namespaces, switches, veths, addresses, routes (and, through `extend`, tunnels). Returns once
 * everything is ready. On any failure everything created so far is removed before the error is rethrown.
 */
export async function labUp(opts: LabUpOptions, extend?: LabExtension): Promise<Lab> {
  const t0 = performance.now();
  const runId = opts.runId ?? newRunId();
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new StraitError('INVALID_ARGUMENT', `invalid run id "${runId}": 4-8 lowercase letters or digits`);
  }
  const topology = typeof opts.topology === 'string' ? loadTopology(opts.topology) : opts.topology;
  if (opts.tunnel !== undefined && !isTunnelType(opts.tunnel)) {
    throw new StraitError('INVALID_ARGUMENT', `unknown tunnel type "${opts.tunnel}" (one of ${TUNNEL_TYPES.join(', ')})`);
  }
  const tunnelType = opts.tunnel;
  const registry = tunnelType ? (opts.registry ?? (await defaultRegistry())) : undefined;
  // Constructing drivers does no I/O: a bad combination (one cluster, no gateway) fails before anything exists.
  const tunnel = tunnelType && registry ? createLabTunnel(topology, runId, tunnelType, registry, opts.ipsecAuth ? { ipsecAuth: opts.ipsecAuth } : {}) : undefined;
  const plan: PlanOptions = {
    ...(tunnel ? { podMtu: tunnel.podMtu, podTxChecksumOff: tunnelType === 'geneve' } : {}),
    ...opts.plan,
  };
  await checkRunIdFree(runId);

  let state: LabState = {
    version: 1,
    runId,
    topologyName: topology.name,
    topology,
    ...(opts.tunnel ? { tunnel: opts.tunnel } : {}),
    status: 'building',
    createdAt: new Date().toISOString(),
    namespaces: labNamespaces(topology, runId),
    hosts: labHostsOf(topology, runId),
    daemons: [],
    files: [],
  };
  writeLabState(state);
  const update = (fn: (s: LabState) => void): void => {
    state = structuredClone(state);
    fn(state);
    writeLabState(state);
  };

  try {
    const timings = await executePlan(planLab(topology, runId, plan), {
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const lab = makeLab(runId, topology, state.hosts, update, timings, tunnel);
    if (tunnel) {
      await buildTunnels(lab, tunnel, update, timings, opts);
    }
    if (extend) await extend(lab, { update });
    throwIfAborted(opts.signal);
    const setupMs = Math.round(performance.now() - t0);
    update((s) => {
      s.status = 'ready';
      s.setupMs = setupMs;
      s.timings = timings;
    });
    return Object.assign(lab, { setupMs });
  } catch (e) {
    update((s) => {
      s.status = 'failed';
    });
    await tunnel?.remove().catch(() => undefined);
    await teardownRun(runId).catch(() => undefined);
    throw e;
  }
}

async function defaultRegistry(): Promise<TunnelRegistry> {
  const { realLabRegistry } = await import('./registry.js');
  return realLabRegistry();
}

async function timed(phase: string, count: number, timings: Record<string, number>, opts: LabUpOptions, fn: () => Promise<void>): Promise<void> {
  throwIfAborted(opts.signal);
  const t0 = performance.now();
  await fn();
  const ms = Math.round(performance.now() - t0);
  timings[phase] = ms;
  opts.onStep?.({ phase, count, ms });
}

/** Tunnel phases of `labUp`: init drivers, restore gateway routes, full-mesh peers, cluster routes, wait for traffic. */
async function buildTunnels(
  lab: Lab,
  tunnel: LabTunnel,
  update: (fn: (s: LabState) => void) => void,
  timings: Record<string, number>,
  opts: LabUpOptions,
): Promise<void> {
  const { topology, runId } = lab;
  const clusters = topology.clusters.map((c) => c.name);
  const record = async (): Promise<void> => {
    const daemons = await tunnel.daemons();
    const files: string[] = [];
    if (tunnel.type === 'wireguard') {
      for (const c of clusters) for (const d of (await tunnel.status(c)).devices) files.push(`/var/run/wireguard/${d}.sock`);
    }
    update((s) => {
      for (const d of daemons) if (!s.daemons.some((x) => x.pid === d.pid)) s.daemons.push(d);
      for (const f of files) if (!s.files.includes(f)) s.files.push(f);
    });
  };
  await timed(`tunnel init (${tunnel.type})`, clusters.length, timings, opts, async () => {
    try {
      await Promise.all(clusters.map((c) => initWithRetry(tunnel, c, opts.signal)));
    } finally {
      await record();
    }
  });
  await timed('gateway routes', clusters.length, timings, opts, async () => {
    await Promise.all(clusters.map((c) => applyHostRoutes(topology, runId, tunnel.gateway(c))));
  });
  await timed('tunnel peers', clusters.length * (clusters.length - 1), timings, opts, async () => {
    try {
      if (tunnel.type === 'wireguard') {
        // One gateway after the other: each one's first handshake then reaches peers that already know its key.
        // In parallel, crossing first handshakes were sometimes dropped and WireGuard retried only after 5 s.
        for (const c of clusters) await tunnel.reconcile(c);
      } else {
        await Promise.all(clusters.map((c) => tunnel.reconcile(c)));
      }
    } finally {
      await record();
    }
  });
  const routes = remoteRoutes(topology, (c) => tunnel.gateway(c));
  await timed('remote cluster routes', routes.length, timings, opts, async () => {
    await Promise.all(routes.map((r) => run(['ip', '-n', lab.netns(r.host), 'route', 'replace', r.dst, 'via', r.via])));
  });
  await timed('tunnel ready', clusters.length, timings, opts, () => waitForMesh(lab, opts.readyTimeoutMs ?? 30_000, opts.signal));
}

/**
 * `init()` is idempotent, so a failed one is retried: on a loaded machine a daemon's control socket can exist a
 * moment before the daemon accepts on it (seen with charon's VICI socket: ECONNREFUSED about once in 8 builds).
 */
async function initWithRetry(tunnel: LabTunnel, cluster: string, signal: AbortSignal | undefined, attempts = 3): Promise<void> {
  for (let i = 1; ; i++) {
    throwIfAborted(signal);
    try {
      await tunnel.driver(cluster).init();
      return;
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 250 * i));
    }
  }
}

/** Waits until the first pod of every cluster reaches the first pod of every other cluster. */
async function waitForMesh(lab: Lab, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const firsts = lab.topology.clusters.map((c) => c.pods[0]).filter((p): p is string => p !== undefined);
  const pairs: [string, string][] = [];
  for (let i = 0; i < firsts.length; i++) for (let j = i + 1; j < firsts.length; j++) pairs.push([firsts[i] as string, firsts[j] as string]);
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    pairs.map(async ([a, b]) => {
      for (;;) {
        throwIfAborted(signal);
        const r = await lab.exec(a, ['ping', '-c', '1', '-W', '1', lab.ip(b)], { allowFailure: true });
        if (r.code === 0) return;
        if (Date.now() > deadline) {
          throw new StraitError('LAB_BUILD_FAILED', `tunnel not ready: ${a} cannot reach ${b} (${lab.ip(b)}) after ${timeoutMs} ms`, { from: a, to: b });
        }
        await new Promise((r2) => setTimeout(r2, 100));
      }
    }),
  );
}

function makeLab(
  runId: string,
  topology: Topology,
  knownHosts: Record<string, LabHostInfo>,
  update: (fn: (s: LabState) => void) => void,
  timings: Record<string, number>,
  tunnel?: LabTunnel,
): Lab {
  const children = new Set<ChildProcess>();
  // Own copies: hosts added or removed while the lab runs change them (and the state file), not the caller's.
  const hosts = { ...knownHosts };
  topology = { ...topology, hosts: [...topology.hosts] };
  const host = (name: string): LabHostInfo & { name: string } => {
    const h = hosts[name];
    if (!h) throw new StraitError('LAB_HOST_NOT_FOUND', `lab ${runId} has no host "${name}"`, { host: name, hosts: Object.keys(hosts) });
    return { name, ...h };
  };
  return {
    runId,
    topology,
    hosts,
    setupMs: 0,
    timings,
    ...(tunnel ? { tunnel } : {}),
    host,
    ip: (name) => host(name).addresses[0] ?? '',
    netns: (name) => host(name).netns,
    exec: (name, argv, opts = {}) => run(argv, { ...opts, netns: host(name).netns }),
    spawn: (name, argv) => {
      const [file, ...args] = withNetns(argv, host(name).netns);
      const child = spawn(file ?? 'false', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    recordDaemon: (d) => update((s) => s.daemons.push(d)),
    recordFile: (f) => update((s) => s.files.push(f)),
    addHost: async (h) => {
      if (hosts[h.name]) throw new StraitError('INVALID_ARGUMENT', `lab ${runId} already has a host "${h.name}"`, { host: h.name });
      if (h.interfaces.some((i) => i.segment !== undefined || (i.peer !== undefined && i.peer.host !== h.name))) {
        throw new StraitError('INVALID_ARGUMENT', `host "${h.name}" has links to other hosts; only self-contained hosts can join a running lab`, { host: h.name });
      }
      const info = hostInfo(runId, h);
      hosts[h.name] = info;
      topology.hosts.push(h);
      update((s) => {
        s.topology.hosts.push(h);
        s.hosts[h.name] = info;
        if (!s.namespaces.includes(info.netns)) s.namespaces.push(info.netns);
      });
      await executePlan(planLab({ ...topology, hosts: [h], segments: [] }, runId));
      return { name: h.name, ...info };
    },
    removeHost: async (name) => {
      const ns = host(name).netns;
      await Promise.all((await pidsInNetns(ns)).map((p) => stopPid(p, 2000)));
      await deleteNetns(ns);
      delete hosts[name];
      topology.hosts = topology.hosts.filter((h) => h.name !== name);
      update((s) => {
        s.topology.hosts = s.topology.hosts.filter((h) => h.name !== name);
        delete s.hosts[name];
        s.namespaces = s.namespaces.filter((n) => n !== ns);
      });
    },
    down: async (opts) => {
      for (const c of children) if (c.pid && isAlive(c.pid)) c.kill('SIGKILL');
      // Drivers first (graceful: daemons remove their sockets and devices), then the sweep catches the rest.
      await tunnel?.remove().catch(() => undefined);
      return teardownRun(runId, opts);
    },
  };
}

/** Reattaches to a running lab by run id (for tests and tools that did not build it). */
export function labAttach(runId: string): Lab {
  const state = readLabState(runId);
  if (!state) throw new StraitError('LAB_NOT_FOUND', `no lab state for run ${runId}`, { runId });
  let current = state;
  const update = (fn: (s: LabState) => void): void => {
    current = structuredClone(current);
    fn(current);
    writeLabState(current);
  };
  return Object.assign(makeLab(runId, state.topology, state.hosts, update, state.timings ?? {}), { setupMs: state.setupMs ?? 0 });
}

/** Removes one run (state file, namespaces, daemons, files). LAB_NOT_FOUND when nothing of it exists. */
export async function labDown(runId: string): Promise<TeardownReport> {
  if (!RUN_ID_PATTERN.test(runId)) throw new StraitError('INVALID_ARGUMENT', `invalid run id "${runId}"`);
  const known = readLabState(runId) !== undefined || (await listNetns()).some((n) => n.startsWith(`st-${runId}-`));
  if (!known) throw new StraitError('LAB_NOT_FOUND', `no lab with run id ${runId}`, { runId });
  return teardownRun(runId);
}

/**
 * Removes every lab run on this machine: all `st-*` namespaces and every recorded lab. For users cleaning
 * up a machine; tests must never call it (other people's labs run in parallel).
 */
export async function labDownAll(): Promise<TeardownReport[]> {
  const ids = new Set<string>(listLabStateIds());
  for (const n of await listNetns()) {
    const id = runIdOfNetns(n);
    if (id) ids.add(id);
  }
  const reports: TeardownReport[] = [];
  for (const id of ids) reports.push(await teardownRun(id));
  return reports;
}

export interface LabSummary {
  runId: string;
  topology?: string;
  tunnel?: string;
  status: LabState['status'] | 'orphaned';
  createdAt?: string;
  setupMs?: number;
  namespaces: { expected: number; present: number };
  daemons: { recorded: number; alive: number };
}

/** Every lab on this machine: recorded runs plus orphaned `st-<id>-*` namespaces without a state file. */
export async function labStatus(): Promise<LabSummary[]> {
  const all = await listNetns();
  const ids = new Set<string>(listLabStateIds());
  for (const n of all) {
    const id = runIdOfNetns(n);
    if (id) ids.add(id);
  }
  const out: LabSummary[] = [];
  for (const runId of [...ids].sort()) {
    const s = readLabState(runId);
    const present = all.filter((n) => n.startsWith(`st-${runId}-`)).length;
    out.push({
      runId,
      ...(s ? { topology: s.topologyName, createdAt: s.createdAt } : {}),
      ...(s?.tunnel ? { tunnel: s.tunnel } : {}),
      ...(s?.setupMs !== undefined ? { setupMs: s.setupMs } : {}),
      status: s ? s.status : 'orphaned',
      namespaces: { expected: s?.namespaces.length ?? present, present },
      daemons: { recorded: s?.daemons.length ?? 0, alive: (s?.daemons ?? []).filter((d) => isAlive(d.pid)).length },
    });
  }
  return out;
}
