// Test face of broker/: an in-process broker on loopback with a fixed admin token, for tests and jest benches.
// It does not ship (tsconfig.build.json leaves out **/testing.ts): product code starts a broker with startBroker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerClient } from '../api/index.js';
import { createLogger } from '../host/index.js';
import { startBroker, type BrokerHandle, type BrokerOptions } from './server.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestBroker {
  handle: BrokerHandle;
  admin: BrokerClient;
  client(token?: string): BrokerClient;
  /** Joins a cluster (with a token of one use) and returns a client with its credentials. */
  join(id: string, podCIDRs: string[]): Promise<BrokerClient>;
  stop(): Promise<void>;
}

/** An in-process broker on loopback over a given Redis socket (tests and benchmarks). */
export async function startTestBroker(socket: string, opts: Partial<BrokerOptions> = {}): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'strait-broker-'));
  const handle = await startBroker({
    listen: '127.0.0.1:0',
    stateDir: dir,
    redisOptions: { path: socket },
    role: 'api',
    adminToken: TEST_ADMIN_TOKEN,
    credentialCacheMs: 0,
    logger: createLogger('broker', 'silent'),
    ...opts,
  });
  const clients: BrokerClient[] = [];
  const client = (token?: string): BrokerClient => {
    const c = new BrokerClient({ baseUrl: handle.url, ...(token ? { token } : {}) });
    clients.push(c);
    return c;
  };
  const admin = client(TEST_ADMIN_TOKEN);
  return {
    handle,
    admin,
    client,
    async join(id, podCIDRs) {
      const t = await admin.createToken({ uses: 1 });
      return client((await admin.joinCluster({ id, podCIDRs }, t.token)).credentials.token);
    },
    async stop() {
      for (const c of clients) c.close();
      await handle.stop({ stopRedis: false });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
