import { mkdirSync } from 'node:fs';
import { FileAllocationStore, IpamEngine, type IpamConfig } from '../../ipam/index.js';
import type { Logger } from '../../host/index.js';
import { AgentServer } from './agent-server.js';
import { withBlockSource, type BlockSource } from './block-source.js';
import { EngineIpamService } from './engine-ipam-service.js';
import { readPoolConfigFile } from './pool-config-file.js';

export interface StandaloneNodeAgentOptions {
  configFile: string;
  socketPath: string;
  stateDir: string;
  nodeName: string;
  log: Logger;
  /** Where blocks are leased from; the node's own store when omitted (standalone). */
  blockSource?: BlockSource;
}

export interface RunningNodeAgent {
  readonly socketPath: string;
  readonly poolNames: string[];
  readonly engine: IpamEngine;
  stop(): Promise<void>;
}

/**
 * A node agent without a broker: pools from a file, allocations and block leases in a durable file store under
 * `stateDir` (each answer is on disk before the plugin sees it), the IPAM API on `socketPath`.
 */
export async function startStandaloneNodeAgent(o: StandaloneNodeAgentOptions): Promise<RunningNodeAgent> {
  const config = (await readPoolConfigFile(o.configFile)) as IpamConfig;
  mkdirSync(o.stateDir, { recursive: true });
  const local = await FileAllocationStore.open(o.stateDir);
  const store = withBlockSource(local, o.blockSource ?? local);
  let server: AgentServer | undefined;
  try {
    // The engine validates the pools at construction; sync() loads what the store holds (after a crash too).
    const engine = new IpamEngine({ store, config });
    await engine.sync();
    server = new AgentServer(o.socketPath, new EngineIpamService(engine, o.nodeName), o.log);
    await server.start();
    const srv = server;
    return {
      socketPath: o.socketPath,
      poolNames: config.pools.map((p) => p.name),
      engine,
      async stop() {
        await srv.stop();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
