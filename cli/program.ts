import { Command } from '@commander-js/extra-typings';
import { registerVersionCommand } from './commands/version.js';

/**
 * The `strait` command tree. Each area adds its commands through one `register…Command(program)` function in
 * `cli/commands/`, so this file only lists them.
 */
export function buildProgram(): Command {
  const program = new Command('strait')
    .description('Strait connects Kubernetes clusters: broker, member agents, gateways, lab and chaos scenarios.')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  registerVersionCommand(program);
  return program;
}
