import type { Command } from '@commander-js/extra-typings';

/** `strait demo ipam`. The `demo` group is shared: other demos add their subcommands to the same group. */
export function registerDemoIpamCommand(program: Command): void {
  const demo = (program.commands.find((c) => c.name() === 'demo') as Command | undefined) ?? program.command('demo').description('Runnable demonstrations (need root)');
  demo
    .command('ipam')
    .description('A node agent, a bridge network in a network namespace and a few pods attached through the reference bridge plugin with strait-ipam')
    .option('--pods <n>', 'how many pods (2-20)', '3')
    .action(async (o) => {
      const { runIpamDemo } = await import('../../scenarios/index.js');
      await runIpamDemo({ pods: Number.parseInt(o.pods, 10) });
    });
}
