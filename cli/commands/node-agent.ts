import type { Command } from '@commander-js/extra-typings';
import { hostname } from 'node:os';

// A registry: the action imports the node agent (member-agent room) on first use.
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
      await (await import('./node-agent-run.js')).runNodeAgent(o);
    });
}
