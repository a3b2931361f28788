import type * as k8s from '@kubernetes/client-node';
import { FileAllocationStore, IpamEngine, type BlockLeaser, type IpamConfig } from '../../ipam/index.js';
import type { Logger } from '../../host/index.js';
import { AgentServer } from './agent-server.js';
import { EngineIpamService } from './engine-ipam-service.js';
import { readPoolConfigFile } from './pool-config-file.js';
import { NodePodGc } from './pod-gc.js';
import { NodePodDirectory } from './pod-directory.js';
import { openStateDir } from './state-dir.js';
import { PoolStatusReporter } from './pool-status-reporter.js';

export interface StandaloneNodeAgentOptions {
  configFile: string;
  socketPath: string;
  stateDir: string;
  nodeName: string;
  log: Logger;
  /** Where blocks are leased from; the node's own store when omitted (standalone). */
  blockLeaser?: BlockLeaser;
  /** Turns on pod IP GC (see `PodGcOptions`). */
  podGc?: PodGcOptions;
  /** Reads this node's Pods, the Namespaces and this Node (pool annotations and label affinities); default: podGc's kubeconfig. */
  kubeConfig?: k8s.KubeConfig;
  /** With a kubeconfig: how often this node's entry of each IPPool's status is brought up to date (default 2 s). */
  poolStatusIntervalMs?: number;
}

/** Pod IP garbage collection of a node agent: watch this node's Pods with this kubeconfig, free what is gone. */
export interface PodGcOptions {
  kubeConfig: k8s.KubeConfig;
  /** A pod must be gone this long before its addresses are freed (default 30 s). */
  graceMs?: number;
  /** Default 10 s. */
  intervalMs?: number;
}

export interface RunningNodeAgent {
  readonly socketPath: string;
  readonly poolNames: string[];
  readonly engine: IpamEngine;
  /** Present when pod IP GC runs. */
  readonly podGc?: NodePodGc;
  /** Present with a kubeconfig: what the agent knows of its pods. */
  readonly pods?: NodePodDirectory;
  /** Present with a kubeconfig: writes this node's entry of each IPPool's status. */
  readonly poolStatus?: PoolStatusReporter;
  stop(): Promise<void>;
}

/** What an agent learns from the Kubernetes API: its pods (for pool selection) and, when on, pod IP GC. */
export interface PodKnowledge {
  pods?: NodePodDirectory;
  podGc?: NodePodGc;
  poolStatus?: PoolStatusReporter;
  stop(): Promise<void>;
}

/**
 * Starts the pod directory (informers on this node's Pods, the Namespaces and this Node) and pod GC for an agent's
 * engine, sharing one Pod informer; both list before the socket opens, so ADD finds pods in the cache.
 */
export async function startPodKnowledge(
  o: { kubeConfig?: k8s.KubeConfig; podGc?: PodGcOptions; poolStatusIntervalMs?: number },
  engine: IpamEngine,
  nodeName: string,
  log: Logger,
): Promise<PodKnowledge> {
  const kc = o.kubeConfig ?? o.podGc?.kubeConfig;
  if (!kc) return { stop: async () => undefined };
  const pods = new NodePodDirectory({ kubeConfig: kc, nodeName, log });
  await pods.start();
  let podGc: NodePodGc | undefined;
  const poolStatus = new PoolStatusReporter({ kubeConfig: kc, nodeName, engine, log, ...(o.poolStatusIntervalMs !== undefined ? { intervalMs: o.poolStatusIntervalMs } : {}) });
  try {
    const g = o.podGc;
    if (g) {
      podGc = new NodePodGc({ kubeConfig: g.kubeConfig, nodeName, engine, log, ...(g.kubeConfig === kc ? { pods: pods.pods } : {}), ...(g.graceMs !== undefined ? { graceMs: g.graceMs } : {}), ...(g.intervalMs !== undefined ? { intervalMs: g.intervalMs } : {}) });
      await podGc.start();
    }
    await poolStatus.start();
  } catch (e) {
    await podGc?.stop();
    await pods.stop();
    throw e;
  }
  const gc = podGc;
  return {
    pods,
    poolStatus,
    ...(gc ? { podGc: gc } : {}),
    async stop() {
      await poolStatus.stop();
      await gc?.stop();
      await pods.stop();
    },
  };
}

/**
 * A node agent without a broker: pools from a file, allocations and block leases in a durable file store under
 * `stateDir` (each answer is on disk before the plugin sees it), the IPAM API on `socketPath`.
 */
export async function startStandaloneNodeAgent(o: StandaloneNodeAgentOptions): Promise<RunningNodeAgent> {
  const config = (await readPoolConfigFile(o.configFile)) as IpamConfig;
  openStateDir(o.stateDir);
  const store = await FileAllocationStore.open(o.stateDir);
  let server: AgentServer | undefined;
  let kube: PodKnowledge | undefined;
  try {
    // The engine validates the pools at construction; sync() loads what the store holds (after a crash too).
    const engine = new IpamEngine({ store, config, ...(o.blockLeaser ? { blockLeaser: o.blockLeaser } : {}) });
    await engine.sync();
    kube = await startPodKnowledge(o, engine, o.nodeName, o.log);
    const k = kube;
    server = new AgentServer(o.socketPath, new EngineIpamService(engine, o.nodeName, k.pods && ((p) => k.pods!.view(p))), o.log);
    await server.start();
    const srv = server;
    return {
      socketPath: o.socketPath,
      poolNames: config.pools.map((p) => p.name),
      engine,
      ...(k.podGc ? { podGc: k.podGc } : {}),
      ...(k.pods ? { pods: k.pods } : {}),
      ...(k.poolStatus ? { poolStatus: k.poolStatus } : {}),
      async stop() {
        await srv.stop();
        await k.stop();
        await store.close();
      },
    };
  } catch (e) {
    await kube?.stop();
    await store.close();
    throw e;
  }
}
