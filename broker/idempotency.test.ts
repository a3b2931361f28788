import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { BrokerClient, isStraitError, type AddressLease, type Block } from '../api/index.js';
import { outcomeCode, startTestRedis, type TestRedis } from '../testing/index.js';
import { BrokerStore } from './broker-store.js';
import { startTestBroker, TEST_ADMIN_TOKEN, type TestBroker } from './testing.js';

let redis: TestRedis;
let broker: TestBroker;
const cred: Record<string, string> = {};

beforeAll(async () => {
  redis = await startTestRedis({ appendonly: true });
  broker = await startTestBroker(redis.socket);
  const t = await broker.admin.createToken({ uses: 2 });
  for (const [id, cidr] of [['east', '10.1.0.0/16'], ['west', '10.2.0.0/16']] as const) {
    cred[id] = (await broker.admin.joinCluster({ id, podCIDRs: [cidr] }, t.token)).credentials.token;
  }
  await broker.admin.createPool({ name: 'p', cidr: '10.50.0.0/16', blockSize: 28, purpose: 'pods' });
});
afterAll(async () => {
  await broker?.stop();
  await redis?.stop();
});

async function call(method: string, path: string, body: unknown, token: string, key?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${broker.handle.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('Idempotency-Key', () => {
  it('answers a retried write with its first answer and refuses the key for another request', async () => {
    const first = await call('POST', '/v1/ippools/p/blocks', { cluster: 'east', node: 'n1' }, cred.east!, 'k-lease-1');
    const again = await call('POST', '/v1/ippools/p/blocks', { cluster: 'east', node: 'n1' }, cred.east!, 'k-lease-1');
    expect(first.status).toBe(201);
    expect(again).toEqual(first);
    expect((await broker.admin.listBlocks({ pool: 'p' })).items.map((b) => b.id)).toEqual([first.json.id]);
    // The same key with another body changes nothing and says so.
    expect(await call('POST', '/v1/ippools/p/blocks', { cluster: 'east', node: 'n2' }, cred.east!, 'k-lease-1')).toMatchObject({ status: 422, json: { error: { code: 'IDEMPOTENCY_KEY_REUSED' } } });
    // Keys are the caller's own: west's k-lease-1 is a request of its own.
    const west = await call('POST', '/v1/ippools/p/blocks', { cluster: 'west', node: 'n1' }, cred.west!, 'k-lease-1');
    expect(west.status).toBe(201);
    expect(west.json.id).not.toBe(first.json.id);
    // A release that happened answers 204 again (not 404); without a key the second is a new request.
    const path = `/v1/blocks/${String(first.json.id)}`;
    expect((await call('DELETE', path, undefined, cred.east!, 'k-rel-1')).status).toBe(204);
    expect((await call('DELETE', path, undefined, cred.east!, 'k-rel-1')).status).toBe(204);
    expect((await call('DELETE', path, undefined, cred.east!)).status).toBe(404);
    // Batches, addresses, pools (deleted after a read) and joins (the credential is in the answer) too.
    const batch = { cluster: 'east', nodes: ['a', 'b'] };
    expect(await call('POST', '/v1/ippools/p/blocks', batch, cred.east!, 'k-batch')).toEqual(await call('POST', '/v1/ippools/p/blocks', batch, cred.east!, 'k-batch'));
    const addr = { owner: 'egress/x' };
    expect(await call('POST', '/v1/ippools/p/addresses', addr, cred.east!, 'k-addr')).toEqual(await call('POST', '/v1/ippools/p/addresses', addr, cred.east!, 'k-addr'));
    await broker.admin.createPool({ name: 'gone', cidr: '10.60.0.0/24', purpose: 'pods' });
    expect((await call('DELETE', '/v1/ippools/gone', undefined, TEST_ADMIN_TOKEN, 'k-pool')).status).toBe(204);
    expect((await call('DELETE', '/v1/ippools/gone', undefined, TEST_ADMIN_TOKEN, 'k-pool')).status).toBe(204);
    const t = await broker.admin.createToken({ uses: 1 });
    const j1 = await call('POST', '/v1/clusters', { id: 'north', podCIDRs: ['10.3.0.0/16'] }, t.token, 'k-join');
    const j2 = await call('POST', '/v1/clusters', { id: 'north', podCIDRs: ['10.3.0.0/16'] }, t.token, 'k-join');
    expect(j1.status).toBe(201);
    expect(j2).toEqual(j1);
    const north = (j1.json.credentials as { token: string }).token;
    expect((await call('GET', '/v1/clusters/north', undefined, north)).status).toBe(200);
    expect((await broker.admin.listTokens()).items.find((x) => x.id === t.id)?.used).toBe(1);
    expect((await call('POST', '/v1/ippools/p/blocks', { cluster: 'east', node: 'n1' }, cred.east!, 'bad key!')).json).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
  });

  it('tells a write refused before it was sent (UNAVAILABLE) from one whose outcome is unknown (OUTCOME_UNKNOWN)', async () => {
    const r = await startTestRedis();
    const conn = new Redis({ path: r.socket, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    conn.on('error', () => undefined);
    const store = new BrokerStore(conn, '{u}:');
    try {
      const { secret } = await store.createToken(60, 1);
      await store.joinCluster(secret, { id: 'east', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: [] });
      await store.createPool({ name: 'q', cidr: '10.9.0.0/16', purpose: 'pods' });
      // Stopped mid-request: the script was sent and the connection dies before an answer.
      process.kill(r.pid, 'SIGSTOP');
      const pending = outcomeCode(store.leaseBlock('q', 'east', 'n1'));
      await new Promise((res) => setTimeout(res, 200));
      await r.kill();
      expect(await pending).toBe('OUTCOME_UNKNOWN');
      // Not connected: refused before anything is sent.
      expect(await outcomeCode(store.leaseBlock('q', 'east', 'n1'))).toBe('UNAVAILABLE');
    } finally {
      conn.disconnect();
      await r.stop();
    }
  });

  it('loses no lease when redis-server is killed mid-request: every lease is known to exactly one client', async () => {
    await broker.admin.createPool({ name: 'k', cidr: '10.64.0.0/14', blockSize: 28, purpose: 'pods' });
    const blocks: Block[] = [];
    const released = new Set<string>();
    const addresses: AddressLease[] = [];
    const failures: string[] = [];
    let acked = 0;
    let crash: Promise<void> | undefined;
    const clients = Array.from({ length: 16 }, () => new BrokerClient({ baseUrl: broker.handle.url, token: cred.east!, retries: 8 }));
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < 30; k++) {
          try {
            if (k % 5 === 4) addresses.push(await c.leaseAddress('k', { owner: `o-${i}-${k}` }));
            else if (k % 5 === 3) blocks.push(...(await c.leaseBlocks('k', { cluster: 'east', nodes: [`n${i}`, `n${i}`] })).items);
            else if (k % 5 === 2 && blocks.length > 0) {
              const b = blocks.find((x) => !released.has(x.id) && x.node === `n${i}`);
              if (b) {
                released.add(b.id);
                await c.releaseBlock(b.id);
              }
            } else blocks.push(await c.leaseBlock('k', { cluster: 'east', node: `n${i}` }));
          } catch (e) {
            failures.push(isStraitError(e) ? e.code : String(e));
          }
          if (++acked === 120) crash = redis.kill().then(() => new Promise((res) => setTimeout(res, 300))).then(() => redis.restart());
        }
      }),
    );
    await crash;
    for (const c of clients) c.close();
    expect(failures).toEqual([]);
    const live = blocks.filter((b) => !released.has(b.id));
    expect((await broker.admin.listBlocks({ pool: 'k' })).items.map((b) => b.id).sort()).toEqual(live.map((b) => b.id).sort());
    expect((await broker.admin.listAddresses({ pool: 'k' })).items.map((a) => a.ip).sort()).toEqual(addresses.map((a) => a.ip).sort());
  });
  it('keeps the recorded answer for --idempotency-ttl (startBroker idempotencyTtlMs), not a fixed 10 minutes', async () => {
    const short = await startTestBroker(redis.socket, { idempotencyTtlMs: 3_000 });
    const conn = new Redis({ path: redis.socket });
    try {
      const res = await fetch(`${short.handle.url}/v1/ippools/p/blocks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cred.east!}`, 'content-type': 'application/json', 'idempotency-key': 'k-ttl-1' },
        body: JSON.stringify({ cluster: 'east', node: 'n-ttl' }),
      });
      expect(res.status).toBe(201);
      const keys = await conn.keys('*k-ttl-1*');
      expect(keys).toHaveLength(1);
      const ttl = await conn.pttl(keys[0]!);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3_000);
    } finally {
      conn.disconnect();
      await short.stop();
    }
  });
});
