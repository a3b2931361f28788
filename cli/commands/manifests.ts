import type { Command } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import { packageVersion } from '../package-version.js';
import { CNI_SOCKET_DEFAULT, installDefaults } from './help-defaults.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * `strait manifests` (what to apply to a cluster) and `strait install-cni` (the node agent's init container). A
 * registry: each action imports deploy/ or the member-agent room on first use.
 */
export function registerManifestsCommands(program: Command): void {
  const version = packageVersion();
  const d = installDefaults(version);
  program
    .command('manifests')
    .description('Print the install manifests (multi-document YAML): namespace, CRDs, ServiceAccounts, RBAC, member agent, node agent, gateway agent, node-steer (docs/install.md)')
    .option('--image <ref>', 'the Strait image (Dockerfile)', d.image)
    .addOption(new Option('--image-pull-policy <policy>', 'imagePullPolicy of every container').choices(['Always', 'IfNotPresent', 'Never'] as const).default('IfNotPresent' as const))
    .option('--namespace <ns>', 'namespace of the agents (only strait-system for now)', d.namespace)
    .option('--broker <url>', 'broker URL for the node and gateway agents (default: the one `strait join` stored in the cluster)')
    .option('--lease-redis <url[,url…]>', 'gateway agents: their lease store (one Redis every candidate reaches), or 3 or 5 comma-separated for the quorum lease', d.leaseRedis)
    .option('--gateway-candidate <node=ip@prio>', 'gateway agents: a candidate, named by its node (repeat for each)', collect, [] as string[])
    .option('--gateway-arg <flag>', 'gateway agents: one more `strait gateway` flag, e.g. --gateway-arg=--wan-dev=eth1 (repeat)', collect, [] as string[])
    .option('--node-steer-arg <flag>', 'node-side steering: one more `strait node-steer` flag, e.g. --node-steer-arg=--dev=eth0 (repeat)', collect, [] as string[])
    .action(async (o) => {
      const { defaultInstallOptions, installObjects, manifestsHeader, renderManifests } = await import('../../deploy/index.js');
      const objects = installObjects({
        ...defaultInstallOptions(version), image: o.image, imagePullPolicy: o.imagePullPolicy, namespace: o.namespace, leaseRedis: o.leaseRedis,
        gatewayCandidates: o.gatewayCandidate, gatewayArgs: o.gatewayArg, nodeSteerArgs: o.nodeSteerArg, ...(o.broker !== undefined ? { broker: o.broker } : {}),
      });
      // `strait manifests | head` closes the pipe early: that is not an error.
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(0);
        throw e;
      });
      process.stdout.write(renderManifests(objects, manifestsHeader(`Printed by \`strait manifests\` ${version}.`)));
    });

  program
    .command('install-cni')
    .description('Install the strait-ipam CNI plugin and its conflist into host directories (the node agent DaemonSet\'s init container runs this)')
    .requiredOption('--bin-dir <dir>', 'CNI plugin directory (the host\'s /opt/cni/bin, mounted)')
    .requiredOption('--conf-dir <dir>', 'CNI configuration directory (the host\'s /etc/cni/net.d, mounted)')
    .option('--socket <path>', 'the node agent\'s socket as the plugin on the host sees it', CNI_SOCKET_DEFAULT)
    .option('--uninstall', 'remove the plugin and the conflist instead')
    .action(async (o) => {
      const { installCni, uninstallCni } = await import('../../member-agent/index.js');
      if (o.uninstall) {
        const r = uninstallCni({ binDir: o.binDir, confDir: o.confDir });
        say(`removed: conflist ${r.conflist ? 'yes' : 'was not there'}, plugin ${r.binary ? 'yes' : 'was not there'}`);
        return;
      }
      const r = installCni({ binDir: o.binDir, confDir: o.confDir, socketPath: o.socket });
      say(`installed ${r.binary} and ${r.conflist}`);
    });
}
