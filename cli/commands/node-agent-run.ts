import { readFileSync } from 'node:fs';
import { StraitError } from '../../api/index.js';
import { createLogger } from '../../host/index.js';
import { loadKubeConfig, startBrokerNodeAgent, startStandaloneNodeAgent, type PodGcOptions, type RunningNodeAgent } from '../../member-agent/index.js';
import type { Logger } from '../../host/index.js';

// `strait node-agent`, loaded by its action in node-agent.ts on first use.

/** The kubeconfig the agent reads its pods with: --kubeconfig, or the in-cluster config inside a pod. */
function kubeConfigFrom(o: { kubeconfig?: string }, log: Logger): ReturnType<typeof loadKubeConfig> | undefined {
  if (!o.kubeconfig && !process.env.KUBERNETES_SERVICE_HOST) {
    log.warn('no --kubeconfig and not in a pod: pod annotations, namespace defaults and label affinities are not read (netconf and default pools only)');
    return undefined;
  }
  return loadKubeConfig(o.kubeconfig);
}

/** Pod IP GC settings from the flags: on with a kubeconfig (--kubeconfig or in-cluster), off with --no-pod-gc. */
function podGcFrom(o: { podGc: boolean; podGcGrace: string; podGcInterval: string }, kubeConfig: ReturnType<typeof loadKubeConfig> | undefined, log: Logger): PodGcOptions | undefined {
  const seconds = (flag: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new StraitError('INVALID_ARGUMENT', `${flag} must be a number of seconds (at least ${min}), got ${JSON.stringify(v)}`);
    return n * 1000;
  };
  const graceMs = seconds('--pod-gc-grace', o.podGcGrace, 0);
  const intervalMs = seconds('--pod-gc-interval', o.podGcInterval, 0.1);
  if (!o.podGc) return undefined;
  if (!kubeConfig) {
    log.warn('pod IP GC is off (no --kubeconfig and not in a pod): addresses of pods whose DEL never comes stay held');
    return undefined;
  }
  return { kubeConfig, graceMs, intervalMs };
}

/** The flags of `strait node-agent` (node-agent.ts declares them). */
export interface NodeAgentFlags {
  standalone?: boolean;
  config?: string;
  broker?: string;
  token?: string;
  cluster?: string;
  ca?: string;
  blockGrace: string;
  socket: string;
  stateDir: string;
  nodeName: string;
  node?: string;
  kubeconfig?: string;
  podGc: boolean;
  podGcGrace: string;
  podGcInterval: string;
}

/** `strait node-agent`: starts the agent in the mode the flags choose and runs it until SIGTERM/SIGINT. */
export async function runNodeAgent(o: NodeAgentFlags): Promise<void> {
  const log = createLogger('node-agent');
  const nodeName = o.node ?? o.nodeName;
  const kubeConfig = kubeConfigFrom(o, log);
  const podGc = podGcFrom(o, kubeConfig, log);
  let agent: RunningNodeAgent;
  if (o.broker !== undefined) {
    if (o.standalone) throw new StraitError('INVALID_ARGUMENT', 'choose one of --standalone and --broker URL');
    const token = o.token ?? process.env.STRAIT_BROKER_TOKEN;
    if (!token) throw new StraitError('INVALID_ARGUMENT', '--broker needs --token CLUSTER_CREDENTIAL (or $STRAIT_BROKER_TOKEN)');
    if (!o.cluster) throw new StraitError('INVALID_ARGUMENT', '--broker needs --cluster ID (the id this cluster joined with)');
    const grace = Number(o.blockGrace);
    if (!Number.isFinite(grace) || grace < 0) throw new StraitError('INVALID_ARGUMENT', `--block-grace must be a number of seconds, got ${JSON.stringify(o.blockGrace)}`);
    let caPem: string | undefined;
    if (o.ca) {
      try {
        caPem = readFileSync(o.ca, 'utf8');
      } catch (e) {
        throw new StraitError('INVALID_ARGUMENT', `cannot read --ca ${o.ca}: ${(e as Error).message}`);
      }
    }
    agent = await startBrokerNodeAgent({
      brokerUrl: o.broker,
      token,
      ...(caPem ? { caPem } : {}),
      cluster: o.cluster,
      nodeName,
      socketPath: o.socket,
      stateDir: o.stateDir,
      blockGraceMs: grace * 1000,
      log,
      ...(podGc ? { podGc } : {}),
      ...(kubeConfig ? { kubeConfig } : {}),
    });
  } else {
    if (!o.standalone) throw new StraitError('INVALID_ARGUMENT', 'choose a mode: --standalone --config FILE, or --broker URL --token CREDENTIAL --cluster ID');
    if (!o.config) throw new StraitError('INVALID_ARGUMENT', '--standalone needs --config FILE with the pools');
    agent = await startStandaloneNodeAgent({ configFile: o.config, socketPath: o.socket, stateDir: o.stateDir, nodeName, log, ...(podGc ? { podGc } : {}), ...(kubeConfig ? { kubeConfig } : {}) });
  }
  log.info({ socket: o.socket, stateDir: o.stateDir, node: nodeName, pools: agent.poolNames, broker: o.broker, podGc: podGc ? { graceMs: podGc.graceMs, intervalMs: podGc.intervalMs } : 'off' }, 'node agent ready');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'node agent stopping');
  await agent.stop();
  log.info('node agent stopped');
}
