import { mkdirSync } from 'node:fs';
import type * as k8s from '@kubernetes/client-node';
import { FileAllocationStore, IpamEngine, type BlockLeaser, type IpamConfig } from '../../ipam/index.js';
import type { Logger } from '../../host/index.js';
import { AgentServer } from './agent-server.js';
import { EngineIpamService } from './engine-ipam-service.js';
import { readPoolConfigFile } from './pool-config-file.js';
import { NodePodGc } from './pod-gc.js';

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
  stop(): Promise<void>;
}

/** Starts pod GC for an agent's engine (its Pod informer lists before the socket opens, so ADD finds pods). */
export async function startPodGc(o: PodGcOptions | undefined, engine: IpamEngine, nodeName: string, log: Logger): Promise<NodePodGc | undefined> {
  if (!o) return undefined;
  const gc = new NodePodGc({ kubeConfig: o.kubeConfig, nodeName, engine, log, ...(o.graceMs !== undefined ? { graceMs: o.graceMs } : {}), ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}) });
  await gc.start();
  return gc;
}

/**
 * A node agent without a broker: pools from a file, allocations and block leases in a durable file store under
 * `stateDir` (each answer is on disk before the plugin sees it), the IPAM API on `socketPath`.
 */
export async function startStandaloneNodeAgent(o: StandaloneNodeAgentOptions): Promise<RunningNodeAgent> {
  const config = (await readPoolConfigFile(o.configFile)) as IpamConfig;
  mkdirSync(o.stateDir, { recursive: true });
  const store = await FileAllocationStore.open(o.stateDir);
  let server: AgentServer | undefined;
  let podGc: NodePodGc | undefined;
  try {
    // The engine validates the pools at construction; sync() loads what the store holds (after a crash too).
    const engine = new IpamEngine({ store, config, ...(o.blockLeaser ? { blockLeaser: o.blockLeaser } : {}) });
    await engine.sync();
    podGc = await startPodGc(o.podGc, engine, o.nodeName, o.log);
    const gc = podGc;
    server = new AgentServer(o.socketPath, new EngineIpamService(engine, o.nodeName, gc && ((p) => gc.statefulSetOf(p))), o.log);
    await server.start();
    const srv = server;
    return {
      socketPath: o.socketPath,
      poolNames: config.pools.map((p) => p.name),
      engine,
      ...(gc ? { podGc: gc } : {}),
      async stop() {
        await srv.stop();
        await gc?.stop();
        await store.close();
      },
    };
  } catch (e) {
    await podGc?.stop();
    await store.close();
    throw e;
  }
}
