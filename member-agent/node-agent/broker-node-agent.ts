import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerClient, StraitError } from '../../api/index.js';
import { FileAllocationStore, IpamEngine, type BlockUsage, type IpamConfig } from '../../ipam/index.js';
import { withDeadline, type Logger } from '../../host/index.js';
import { AgentServer } from './agent-server.js';
import { BrokerBlockLeaser, type BlockReconcileResult } from './broker-block-leaser.js';
import { BrokerStickyLeaser } from './broker-sticky-leaser.js';
import { poolsFromBroker, type RefusedPool } from './broker-pools.js';
import { EngineIpamService } from './engine-ipam-service.js';
import type * as k8s from '@kubernetes/client-node';
import { startPodKnowledge, type PodGcOptions, type PodKnowledge, type RunningNodeAgent } from './standalone-agent.js';
import { openStateDir } from './state-dir.js';

export interface BrokerNodeAgentOptions {
  /** e.g. `https://broker.example:8443` */
  brokerUrl: string;
  /** The cluster credential (from `strait join`). */
  token: string;
  /** PEM of the broker CA (pinned); omit for a plain-http broker. */
  caPem?: string;
  cluster: string;
  nodeName: string;
  socketPath: string;
  stateDir: string;
  log: Logger;
  /** An empty block goes back to the broker after this long (default 5 min). */
  blockGraceMs?: number;
  /** How often empty blocks and the broker's pools are looked at (default min(grace/2, 30 s), at least 100 ms). */
  housekeepingIntervalMs?: number;
  /** Turns on pod IP GC (free addresses of pods that are gone). */
  podGc?: PodGcOptions;
  /** Reads this node's Pods, the Namespaces and this Node (pool annotations and label affinities); default: podGc's kubeconfig. */
  kubeConfig?: k8s.KubeConfig;
  /** With a kubeconfig: how often this node's entry of each IPPool's status is brought up to date (default 2 s). */
  poolStatusIntervalMs?: number;
  /**
   * With pools stored from an earlier run: how long the start waits for the broker's pools before it serves from
   * the stored pools and blocks and catches up in the background (default 3 s). A broker that refuses connections
   * is noticed at once; this bounds one that hangs (a stuck process, a black-holed route), whose requests would
   * otherwise take the client's 30 s timeout, retried, while the node's CNI ADDs fail.
   */
  brokerStartDeadlineMs?: number;
}

export interface RunningBrokerNodeAgent extends RunningNodeAgent {
  /** What the start-up reconcile with the broker did. */
  readonly reconciled: BlockReconcileResult;
  /**
   * The broker's pods pools this agent left out because its pool validation refused them (name → why); it serves
   * the others. Re-checked every housekeeping round, so a fixed pool is taken up.
   */
  readonly refusedPools: ReadonlyMap<string, RefusedPool>;
  /** How many times a broker pool was refused (each pool counted once per change of its refusal). */
  readonly poolRefusals: number;
  /** One housekeeping round now: returns empty blocks past the grace period; resolves to the blocks returned. */
  housekeeping(): Promise<BlockUsage[]>;
}

/**
 * A node agent whose blocks are leased from the broker: pools from the broker, each block leased there when the
 * node needs one and recorded in the durable file store under `stateDir` (a restart reuses it, no new lease), pod
 * addresses allocated locally inside the node's blocks (no broker round trip per pod), empty blocks returned after
 * the grace period. The last pools seen are kept in `stateDir/broker-pools.json`, so a restart while the broker is
 * unreachable still serves from the blocks held (new blocks and the reconcile wait for the broker).
 */
export async function startBrokerNodeAgent(o: BrokerNodeAgentOptions): Promise<RunningBrokerNodeAgent> {
  const graceMs = o.blockGraceMs ?? 300_000;
  const intervalMs = Math.max(100, o.housekeepingIntervalMs ?? Math.min(graceMs / 2, 30_000));
  const client = new BrokerClient({ baseUrl: o.brokerUrl, token: o.token, ...(o.caPem ? { caPem: o.caPem } : {}) });
  openStateDir(o.stateDir);
  let local: FileAllocationStore | undefined;
  let server: AgentServer | undefined;
  let kube: PodKnowledge | undefined;
  const poolsFile = join(o.stateDir, 'broker-pools.json');
  const savePools = (c: IpamConfig): void => {
    writeFileSync(`${poolsFile}.tmp`, JSON.stringify(c));
    renameSync(`${poolsFile}.tmp`, poolsFile);
  };
  const refusedPools = new Map<string, RefusedPool>();
  let poolRefusals = 0;
  /** The broker's pools as this node uses them; refused ones are logged once per change of their refusal. */
  const fromBroker = async (): Promise<IpamConfig> => {
    const [{ items }, reserved] = await Promise.all([
      client.listPools(),
      // A broker older than ReservedIPs answers 404: nothing is reserved there.
      client.listReservedIPs().then((l) => l.items, (e: unknown) => {
        if (e instanceof StraitError && e.code === 'NOT_FOUND') return [];
        throw e;
      }),
    ]);
    if (!items.some((p) => p.purpose === 'pods')) throw new StraitError('AGENT_CONFIG_INVALID', `the broker ${o.brokerUrl} has no pool with purpose "pods" to lease blocks from`);
    const { config, refused } = poolsFromBroker(items, reserved);
    for (const r of refused) {
      if (refusedPools.get(r.pool)?.message === r.message) continue;
      poolRefusals++;
      o.log.error({ pool: r.pool, code: r.code, reason: r.message }, 'refusing a broker pool this node agent cannot use; serving the others');
    }
    refusedPools.clear();
    for (const r of refused) refusedPools.set(r.pool, r);
    return config;
  };
  try {
    let config: IpamConfig;
    let reconciledAtStart = true;
    const stored = existsSync(poolsFile);
    const startDeadlineMs = o.brokerStartDeadlineMs ?? 3000;
    try {
      config = stored ? await withDeadline(fromBroker(), startDeadlineMs, () => new StraitError('UNAVAILABLE', `the broker did not answer within ${startDeadlineMs} ms`)) : await fromBroker();
      savePools(config);
    } catch (e) {
      // A node restarting while the broker is down still serves its pods from the blocks it holds.
      if (!(e instanceof StraitError && e.code === 'UNAVAILABLE') || !stored) throw e;
      config = JSON.parse(readFileSync(poolsFile, 'utf8')) as IpamConfig;
      reconciledAtStart = false;
      o.log.warn({ err: e, pools: config.pools.map((p) => p.name) }, 'broker unreachable: serving from the pools and blocks recorded in the state dir');
    }
    local = await FileAllocationStore.open(o.stateDir);
    const leaser = new BrokerBlockLeaser(client, local, o.cluster, o.log);
    const reconciled: BlockReconcileResult = reconciledAtStart ? await leaser.reconcile(o.nodeName) : { adopted: [], dropped: [], orphaned: [] };
    // StatefulSet addresses are bound at the broker, so an ordinal keeps its address on any node of the cluster.
    const engine = new IpamEngine({ store: local, config, blockLeaser: leaser, stickyLeaser: new BrokerStickyLeaser(client, o.cluster, o.log) });
    await engine.sync();
    kube = await startPodKnowledge(o, engine, o.nodeName, o.log);
    const k = kube;
    server = new AgentServer(o.socketPath, new EngineIpamService(engine, o.nodeName, k.pods && ((p) => k.pods!.view(p))), o.log);
    await server.start();

    let poolsSeen = JSON.stringify(config);
    let needsReconcile = !reconciledAtStart;
    const housekeeping = async (): Promise<BlockUsage[]> => {
      const next = await fromBroker();
      if (needsReconcile) {
        const r = await leaser.reconcile(o.nodeName, { dropStale: false });
        needsReconcile = false;
        Object.assign(reconciled, r);
        // reconfigure() re-reads the leases, so adopted blocks become the engine's.
        await engine.reconfigure(engine.getConfig());
        o.log.info(r, 'reconciled blocks with the broker');
      }
      if (JSON.stringify(next) !== poolsSeen && next.pools.length > 0) {
        await engine.reconfigure(next);
        savePools(next);
        poolsSeen = JSON.stringify(next);
        o.log.info({ pools: next.pools.map((p) => p.name) }, 'pools changed at the broker');
      }
      return engine.releaseEmptyBlocks(graceMs);
    };
    let running: Promise<unknown> | undefined;
    const timer = setInterval(() => {
      if (running) return;
      running = housekeeping()
        .catch((e: unknown) => o.log.warn({ err: e }, 'housekeeping failed; retrying next round'))
        .finally(() => (running = undefined));
    }, intervalMs);
    timer.unref();
    const srv = server;
    const st = local;
    return {
      socketPath: o.socketPath,
      get poolNames() {
        return engine.getConfig().pools.map((p) => p.name);
      },
      engine,
      ...(k.podGc ? { podGc: k.podGc } : {}),
      ...(k.pods ? { pods: k.pods } : {}),
      ...(k.poolStatus ? { poolStatus: k.poolStatus } : {}),
      reconciled,
      refusedPools,
      get poolRefusals() {
        return poolRefusals;
      },
      housekeeping: async () => {
        while (running) await running;
        return housekeeping();
      },
      async stop() {
        clearInterval(timer);
        while (running) await running;
        await srv.stop();
        await k.stop();
        await st.close();
        client.close();
      },
    };
  } catch (e) {
    await server?.stop();
    await kube?.stop();
    await local?.close();
    client.close();
    throw e;
  }
}
