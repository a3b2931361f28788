import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { startDaemon, stopPid, type DaemonHandle } from '../../host/index.js';
import { socketAnswers } from './agent-server.js';
import { repoRoot } from './repo-root.js';

export interface AgentProcessOptions {
  configFile: string;
  socketPath: string;
  stateDir: string;
  logFile: string;
  nodeName?: string;
  /** Read this node's pods from this API server (pool annotations, label affinities) and run pod IP GC. */
  kubeconfig?: string;
}

/**
 * Runs `strait node-agent --standalone` as its own process (tests kill it with -9; the benchmark keeps it off
 * the measuring process) and waits until its socket answers. Needs `npm run build` (runs dist/cli/main.js).
 */
export async function startAgentProcess(o: AgentProcessOptions, timeoutMs = 20_000): Promise<DaemonHandle> {
  const main = join(repoRoot(), 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new StraitError('AGENT_UNREACHABLE', `${main} is missing: run \`npm run build\` first`);
  const argv = ['node', main, 'node-agent', '--standalone', '--config', o.configFile, '--socket', o.socketPath, '--state-dir', o.stateDir, '--node-name', o.nodeName ?? 'test-node', ...(o.kubeconfig ? ['--kubeconfig', o.kubeconfig] : [])];
  const d = startDaemon(argv, { logFile: o.logFile, env: { ...process.env, STRAIT_LOG_LEVEL: process.env.STRAIT_LOG_LEVEL ?? 'info' } });
  let exited = false;
  void d.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    if (await socketAnswers(o.socketPath)) return d;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopPid(d.pid);
  const log = existsSync(o.logFile) ? readFileSync(o.logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
  throw new StraitError('AGENT_UNREACHABLE', `the node agent did not come up on ${o.socketPath}${exited ? ' (it exited)' : ''}:\n${log}`, { socket: o.socketPath });
}
