import { Command } from '@commander-js/extra-typings';
import { registerVersionCommand } from './commands/version.js';
import { registerBrokerCommands } from './commands/broker.js';
import { registerScenarioCommands } from './commands/scenario.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerLabCommands } from './commands/lab.js';
import { registerNodeAgentCommands } from './commands/node-agent.js';
import { registerDemoIpamCommand } from './commands/demo-ipam.js';
import { registerGatewayCommands } from './commands/gateway.js';
import { registerJoinCommands } from './commands/join.js';
import { registerDoctorCommands } from './commands/doctor.js';
import { registerManifestsCommands } from './commands/manifests.js';

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
  registerBrokerCommands(program);
  registerScenarioCommands(program);
  registerDemoCommand(program);
  registerLabCommands(program);
  registerNodeAgentCommands(program);
  registerDemoIpamCommand(program);
  registerGatewayCommands(program);
  registerJoinCommands(program);
  registerDoctorCommands(program);
  registerManifestsCommands(program);
  return program;
}
