import type { Command } from '@commander-js/extra-typings';
import type * as MemberAgentRoom from '../../member-agent/index.js';
import type { loadKubeConfig } from '../../member-agent/index.js';

// A registry: each action imports the member-agent room (and the Kubernetes client) on first use.
const room = (): Promise<typeof MemberAgentRoom> => import('../../member-agent/index.js');

const collect = (v: string, prev: string[]): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** `strait join`, `strait leave` and `strait member-agent`: the cluster side (logic in member-agent/cluster/). */
export function registerJoinCommands(program: Command): void {
  program
    .command('join')
    .description('Join this Kubernetes cluster to a Strait broker: pin the broker CA, register the cluster, install CRDs, store credentials')
    .requiredOption('--broker <url>', 'broker URL, as printed by `strait token create` (URL,URL,… for replicas)')
    .requiredOption('--token <token>', 'join token <id>.<secret>')
    .requiredOption('--cluster-id <id>', 'this cluster\'s id (a DNS label, unique in the cluster set)')
    .option('--ca-hash <sha256:hex>', 'hash of the broker CA (from `strait token create`); required for https')
    .option('--ca-file <file>', 'the broker CA certificate, if the broker does not send it (checked against --ca-hash)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else in-cluster)')
    .option('--pod-cidr <cidr>', 'pod CIDR (repeatable or comma-separated; default: derived from Nodes\' podCIDRs)', collect, [] as string[])
    .option('--service-cidr <cidr>', 'service CIDR (repeatable or comma-separated)', collect, [] as string[])
    .action(async (o) => {
      const { joinCluster, loadKubeConfig } = await room();
      const kubeConfig = loadKubeConfig(o.kubeconfig ?? process.env.KUBECONFIG);
      const r = await joinCluster({
        kubeConfig, brokerUrl: o.broker, token: o.token, clusterId: o.clusterId,
        ...(o.caHash ? { caHash: o.caHash } : {}), ...(o.caFile ? { caFile: o.caFile } : {}),
        podCidrs: o.podCidr, serviceCidrs: o.serviceCidr, say,
      });
      say(r.registered ? `joined as ${r.clusterId}` : `already joined as ${r.clusterId}; nothing registered again`);
    });

  /** A command run against the member cluster, with only --kubeconfig. */
  const clusterCommand = (name: string, description: string, act: (kubeConfig: ReturnType<typeof loadKubeConfig>) => Promise<void>): void => {
    program
      .command(name)
      .description(description)
      .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else in-cluster)')
      .action(async (o) => act((await room()).loadKubeConfig(o.kubeconfig ?? process.env.KUBECONFIG)));
  };
  clusterCommand('leave', 'Leave the broker: return this cluster\'s blocks, addresses and gateways, remove it at the broker, delete its credentials', async (kubeConfig) => {
    if ((await (await room()).leaveCluster({ kubeConfig, say })).left) say('left the cluster set');
  });
  clusterCommand('rotate-credential', 'Replace this cluster\'s broker credential: the broker issues a new one (the old one stops working at once) and it is stored in the strait-system Secret, where the member agent picks it up', async (kubeConfig) => {
    say(`credential of ${(await (await room()).rotateCredential({ kubeConfig, say })).clusterId} rotated`);
  });

  program
    .command('member-agent')
    .description('Run the member agent in the foreground (leader-elected; syncs the broker and the cluster\'s Strait CRDs)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else in-cluster)')
    .option('--identity <id>', 'leader election identity (default: hostname-pid-random)')
    .action(async (o) => {
      const [{ createLogger }, { loadKubeConfig, MemberAgent }] = await Promise.all([import('../../host/index.js'), room()]);
      const log = createLogger('member-agent');
      const kubeConfig = loadKubeConfig(o.kubeconfig ?? process.env.KUBECONFIG);
      const agent = new MemberAgent({
        kubeConfig, log,
        ...(o.identity ? { identity: o.identity } : {}),
      });
      await agent.start();
      log.info({ identity: agent.identity, server: agent.kube.server }, 'member agent started');
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      log.info({ signal }, 'member agent stopping');
      await agent.stop();
    });
}
