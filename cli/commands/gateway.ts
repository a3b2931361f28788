import type { Command } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import type { AgentClusterAccess } from '../../gateway/index.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/**
 * The cluster's live pods for egress selectors: `--kubeconfig`, or the in-cluster config inside a pod; none
 * otherwise (the agent says so: selector policies then select nothing). A node watches only its own pods.
 */
async function clusterAccess(o: { kubeconfig?: string }, component: 'gateway' | 'node-steer', name: string): Promise<AgentClusterAccess | undefined> {
  if (!o.kubeconfig && !process.env.KUBERNETES_SERVICE_HOST) return undefined;
  // Only then the member-agent room and the Kubernetes client: a gateway without a cluster to read never loads them.
  const [{ createLogger }, { gatewayAgentAccess, KubeEgressClusterView, loadKubeConfig, nodeSteerAccess }] = await Promise.all([import('../../host/index.js'), import('../../member-agent/index.js')]);
  const kubeConfig = loadKubeConfig(o.kubeconfig);
  const log = createLogger(`${component}:${name}`);
  return {
    view: component === 'gateway'
      ? new KubeEgressClusterView({ kubeConfig, access: gatewayAgentAccess(), log })
      : new KubeEgressClusterView({ kubeConfig, access: nodeSteerAccess(), nodeName: name, log }),
  };
}

/**
 * `strait gateway …` (runs on every gateway candidate) and `strait node-steer …` (runs on every node). Both run in
 * the foreground until SIGTERM/SIGINT. docs/gateways.md and docs/egress.md explain the flags.
 */
// A registry: each action imports the gateway room on first use, so `--help` and other commands never load it.
export function registerGatewayCommands(program: Command): void {
  program
    .command('gateway')
    .description('run the gateway agent: election by probes, lease-fenced egress IPs, SNAT, broker publishing')
    .requiredOption('--cluster <id>', 'cluster id')
    .requiredOption('--name <name>', 'this candidate\'s name (must appear in --candidate)')
    .requiredOption('--lease-redis <url[,url…]>', 'lease store: redis://host:port, unix:///path or a socket path; 3 or 5 of them, comma-separated, for a quorum lease that survives the loss of any one (two)')
    .option('--candidate <name=ip@prio>', 'a gateway candidate of this cluster (repeat; include this one)', collect, [] as string[])
    .option('--priority <n>', 'this candidate\'s priority (higher wins)', '100')
    .option('--run-id <id>', 'names the nftables tables and devices', 'strait')
    .addOption(new Option('--profile <name>', 'probe and lease timing').choices(['default', 'fast']).default('default'))
    .option('--broker <url>', 'broker URL or URL,URL of replicas (publishes this gateway; leases egress IPs from pools)')
    .option('--token <token>', 'broker credential')
    .option('--wan-dev <dev>', 'device facing the outside (egress IPs live here)')
    .option('--lan-dev <dev>', 'device facing the cluster (node VXLAN arrives here)')
    .option('--egress-config <file>', 'YAML/JSON with EgressGateway / EgressPolicy / EgressClusterPolicy objects')
    .option('--cluster-cidr <cidr>', 'cluster-internal CIDR (repeat)', collect, [] as string[])
    .option('--endpoint <ip>', 'endpoint published to the broker (repeat; default: the candidate address)', collect, [] as string[])
    .option('--probe-port <port>', 'UDP port of the probe echo responder')
    .option('--status-file <file>', 'rewrite this JSON file with the agent status on every change')
    .addOption(new Option('--tunnel <type>', 'keep tunnels to the other clusters\' gateways (needs --broker); the first --endpoint is the local end').choices(['wireguard', 'vxlan', 'ipsec', 'geneve']))
    .option('--state-dir <dir>', 'tunnel keys (generated on first start, then kept) and tunnel files (default /var/lib/strait/gateway/<cluster>-<name>)')
    .option('--tunnel-key-file <file>', 'private key to use instead of the one under --state-dir (wg genkey output, or a PKCS#8 PEM for ipsec)')
    .option('--underlay-dev <dev>', 'device the tunnels run over (default: the one holding the first --endpoint)')
    .option('--tunnel-status-file <file>', 'rewrite this JSON file with the tunnel status (peers, handshakes, remote active gateways)')
    .option('--egress-from-broker', 'read this cluster\'s EgressGateway/EgressPolicy/EgressClusterPolicy objects from the broker and follow changes (instead of --egress-config)')
    .option('--egress-gateway <name>', 'with --egress-from-broker: the EgressGateway this candidate serves (default: the first listing it)')
    .addOption(new Option('--conntrack-sync <mode>', 'replicate egress conntrack state to the other candidates with conntrackd (FT-FW), so TCP flows survive a failover: auto = when conntrackd works here').choices(['auto', 'on', 'off']).default('auto'))
    .option('--kubeconfig <file>', 'read the cluster\'s Pods and Namespaces (egress podSelector / namespaceSelector) with this kubeconfig (in a pod: the in-cluster config by default)')
    .action(async (o) => {
      const { runGatewayAgent } = await import('../../gateway/index.js');
      const access = await clusterAccess(o, 'gateway', o.name);
      await runGatewayAgent({ ...o, runId: o.runId }, access);
    });

  program
    .command('node-steer')
    .description('run node-side steering: probe gateway candidates, move remote routes and egress steering on failover')
    .requiredOption('--cluster <id>', 'cluster id')
    .requiredOption('--name <name>', 'this node\'s name')
    .option('--candidate <name=ip@prio>', 'a gateway candidate of this cluster (repeat)', collect, [] as string[])
    .option('--run-id <id>', 'names the nftables table, VXLAN device and routing tables', 'strait')
    .addOption(new Option('--profile <name>', 'probe timing').choices(['default', 'fast']).default('default'))
    .addOption(new Option('--mode <mode>', 'route mode').choices(['active-standby', 'active-active']).default('active-standby'))
    .option('--remote-cidr <cidr>', 'remote-cluster CIDR routed via the active gateway(s) (repeat)', collect, [] as string[])
    .option('--cluster-cidr <cidr>', 'cluster-internal CIDR never steered (repeat)', collect, [] as string[])
    .option('--dev <dev>', 'underlay device towards the gateways')
    .option('--egress-config <file>', 'YAML/JSON with EgressGateway / EgressPolicy / EgressClusterPolicy objects')
    .option('--egress-from-broker', 'read this cluster\'s egress objects from the broker and follow changes (needs --broker)')
    .option('--broker <url>', 'broker URL or URL,URL of replicas (with --egress-from-broker)')
    .option('--token <token>', 'broker credential (the cluster\'s)')
    .option('--probe-port <port>', 'UDP port of the gateways\' probe responders')
    .option('--status-file <file>', 'rewrite this JSON file with the agent status on every change')
    .option('--kubeconfig <file>', 'read this node\'s Pods (--name is the node name) and the Namespaces for egress selectors with this kubeconfig (in a pod: the in-cluster config by default)')
    .option('--no-masquerade', 'do not masquerade what this cluster\'s pods send outside every joined cluster to the node\'s address (the default with --broker; docs/cni.md); for networks that route pod CIDRs')
    .action(async (o) => {
      const { runNodeSteer } = await import('../../gateway/index.js');
      const access = await clusterAccess(o, 'node-steer', o.name);
      await runNodeSteer(o, access);
    });
}
