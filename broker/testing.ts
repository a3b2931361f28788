// Test face of broker/: an in-process broker on loopback with a fixed admin token, for tests and jest benches.
// It does not ship (tsconfig.build.json leaves out **/testing.ts): product code starts a broker with startBroker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerClient } from '../api/index.js';
import { createLogger } from '../host/index.js';
import type { BrokerStore } from './broker-store.js';
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

/**
 * The store of the GC scale tests: one /12 pool `big` of /24 blocks and clusters `c0`… joined, each with a block for
 * each of 20 nodes and an address for each of `owners(c)`; with `heartbeat`, each cluster then reports those nodes
 * and owners as present.
 */
export async function fillScaleStore(store: BrokerStore, clusters: number, owners: (c: number) => string[], o: { heartbeat?: boolean } = {}): Promise<void> {
  const nodes = Array.from({ length: 20 }, (_, i) => `node-${i}`);
  const { secret } = await store.createToken(600, clusters);
  await store.createPool({ name: 'big', cidr: '10.64.0.0/12', blockSize: 24, purpose: 'pods' });
  for (let c = 0; c < clusters; c++) {
    await store.joinCluster(secret, { id: `c${c}`, podCIDRs: [`10.${c}.0.0/16`], serviceCIDRs: [] });
    await store.leaseBlocks('big', `c${c}`, nodes);
    const all = owners(c);
    for (let i = 0; i < all.length; i += 1000) await store.leaseAddresses('big', all.slice(i, i + 1000), `c${c}`);
    if (o.heartbeat) await store.heartbeat(`c${c}`, { nodes, addressOwners: all });
  }
}
