import type { Command } from '@commander-js/extra-typings';
import { hostname } from 'node:os';
import { StraitError } from '../../api/index.js';
import { createLogger } from '../../host/index.js';
import { startStandaloneNodeAgent } from '../../member-agent/index.js';

export function registerNodeAgentCommands(program: Command): void {
  program
    .command('node-agent')
    .description('Run the node agent in the foreground: serves the IPAM API for the strait-ipam CNI plugin on a unix socket')
    .option('--standalone', 'take pools from --config and keep allocations in --state-dir (no broker)')
    .option('--config <file>', 'pool config, JSON or YAML: {"pools":[{"name":"p1","subnet":"10.77.0.0/24","default":true}]}')
    .option('--socket <path>', 'unix socket to serve', '/run/strait/node-agent.sock')
    .option('--state-dir <dir>', 'directory for the durable allocation store', '/var/lib/strait/ipam')
    .option('--node-name <name>', 'this node\'s name (blocks are leased to it)', hostname())
    .action(async (o) => {
      if (!o.standalone) throw new StraitError('INVALID_ARGUMENT', 'only --standalone mode exists so far (the broker-backed mode comes with the broker)');
      if (!o.config) throw new StraitError('INVALID_ARGUMENT', '--standalone needs --config FILE with the pools');
      const log = createLogger('node-agent');
      const agent = await startStandaloneNodeAgent({ configFile: o.config, socketPath: o.socket, stateDir: o.stateDir, nodeName: o.nodeName, log });
      log.info({ socket: o.socket, stateDir: o.stateDir, node: o.nodeName, pools: agent.poolNames }, 'node agent ready');
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      log.info({ signal }, 'node agent stopping');
      await agent.stop();
      log.info('node agent stopped');
    });
}
