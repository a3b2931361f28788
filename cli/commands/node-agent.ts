import type { Command } from '@commander-js/extra-typings';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { StraitError } from '../../api/index.js';
import { createLogger } from '../../host/index.js';
import { loadKubeConfig, startBrokerNodeAgent, startStandaloneNodeAgent, type PodGcOptions, type RunningNodeAgent } from '../../member-agent/index.js';
import type { Logger } from '../../host/index.js';

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

export function registerNodeAgentCommands(program: Command): void {
  program
    .command('node-agent')
    .description('Run the node agent in the foreground: serves the IPAM API for the strait-ipam CNI plugin on a unix socket')
    .option('--standalone', 'take pools from --config and keep allocations in --state-dir (no broker)')
    .option('--config <file>', 'pool config, JSON or YAML: {"pools":[{"name":"p1","subnet":"10.77.0.0/24","default":true}]}')
    .option('--broker <url>', 'broker mode: pools from this broker, blocks leased from it (needs --token and --cluster); URL,URL for replicas')
    .option('--token <credential>', 'broker mode: the cluster credential (default: $STRAIT_BROKER_TOKEN)')
    .option('--cluster <id>', 'broker mode: this cluster\'s id at the broker')
    .option('--ca <file>', 'broker mode: PEM of the broker CA to trust (https brokers)')
    .option('--block-grace <seconds>', 'broker mode: return a block to the broker after it stayed empty this long', '300')
    .option('--socket <path>', 'unix socket to serve', '/run/strait/node-agent.sock')
    .option('--state-dir <dir>', 'directory for the durable allocation store', '/var/lib/strait/ipam')
    .option('--node-name <name>', 'this node\'s name (blocks are leased to it)', hostname())
    .option('--node <name>', 'alias of --node-name')
    .option('--kubeconfig <file>', 'read this node\'s Pods, the Namespaces and this Node (pool annotations, label affinities) and run pod IP GC with this kubeconfig (in a pod: the in-cluster config by default)')
    .option('--no-pod-gc', 'do not free addresses of pods that are gone (only DEL frees)')
    .option('--pod-gc-grace <seconds>', 'pod IP GC: a pod must be gone this long before its addresses are freed', '30')
    .option('--pod-gc-interval <seconds>', 'pod IP GC: how often to look', '10')
    .action(async (o) => {
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
    });
}
