import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { isStraitError, StraitError } from '../api/index.js';
import { startTestRedis, type TestRedis, outcomeCode } from '../testing/index.js';
import { BrokerStore } from './broker-store.js';
import { collectGarbage } from './jobs.js';

let redis: TestRedis;
let conn: Redis;
let store: BrokerStore;

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ path: redis.socket });
  store = new BrokerStore(conn, '{own}:');
  const { secret } = await store.createToken(60, 3);
  await store.joinCluster(secret, { id: 'east', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: [] });
  await store.joinCluster(secret, { id: 'west', podCIDRs: ['10.2.0.0/16'], serviceCIDRs: [] });
  await store.joinCluster(secret, { id: 'south', podCIDRs: ['10.3.0.0/16'], serviceCIDRs: [] });
});
afterAll(async () => {
  conn.disconnect();
  await redis.stop();
});


const ownedBy = (cluster: string) => (p: { cluster?: string | undefined }): void => {
  if (p.cluster !== cluster) throw new StraitError('FORBIDDEN', `not ${cluster}'s pool`);
};

describe('pools owned by clusters (BrokerStore on a real Redis)', () => {
  it('records the owner; an unregistered owner is refused inside the create script and nothing is written', async () => {
    const p = await store.createPool({ name: 'east-a', cidr: '10.60.0.0/24', purpose: 'pods', cluster: 'east' });
    expect(p.cluster).toBe('east');
    const rev = await store.currentRev();
    expect(await outcomeCode(store.createPool({ name: 'ghost', cidr: '10.61.0.0/24', purpose: 'pods', cluster: 'nobody' }))).toBe('NOT_FOUND');
    expect(await store.currentRev()).toBe(rev);
    // Overlap is still checked across owners.
    expect(await outcomeCode(store.createPool({ name: 'west-a', cidr: '10.60.0.128/25', purpose: 'pods', cluster: 'west' }))).toBe('CIDR_OVERLAP');
  });

  it('checks the owner on the stored pool and deletes exactly that version', async () => {
    await store.createPool({ name: 'swap', cidr: '10.62.0.0/24', purpose: 'pods', cluster: 'east' });
    expect(await outcomeCode(store.deletePool('swap', undefined, ownedBy('west')))).toBe('FORBIDDEN');
    const old = await store.get('IPPool', 'swap');
    // Replaced by another owner under the same name: a delete based on the old version is stale, not a delete.
    await store.deletePool('swap');
    await store.createPool({ name: 'swap', cidr: '10.62.0.0/24', purpose: 'pods', cluster: 'west' });
    expect(await outcomeCode(store.deletePool('swap', old.resourceVersion, ownedBy('east')))).toBe('FORBIDDEN');
    expect(await outcomeCode(store.deletePool('swap', old.resourceVersion, ownedBy('west')))).toBe('STALE_RESOURCE_VERSION');
    await store.deletePool('swap', undefined, ownedBy('west'));
    expect(await outcomeCode(store.get('IPPool', 'swap'))).toBe('NOT_FOUND');
  });

  it('removing a cluster deletes its free pools, is refused while one is leased, and gc takes ownerless pools once free', async () => {
    await store.createPool({ name: 'south-free', cidr: '10.63.0.0/24', purpose: 'pods', cluster: 'south' });
    await store.createPool({ name: 'south-used', cidr: '10.64.0.0/24', blockSize: 26, purpose: 'pods', cluster: 'south' });
    const b = await store.leaseBlock('south-used', 'west', 'w1');
    const rev = await store.currentRev();
    const err = await store.removeCluster('south').catch((e: unknown) => e);
    expect(isStraitError(err, 'IN_USE')).toBe(true);
    expect((err as Error).message).toContain('south-used');
    expect(await store.currentRev()).toBe(rev);
    await store.releaseBlock(b.id);
    await store.removeCluster('south');
    expect((await store.list('IPPool', (p) => p.cluster === 'south')).items).toEqual([]);
    expect((await store.list('IPPool', (p) => p.cluster === 'east')).items.map((p) => p.name)).toEqual(['east-a']);

    // A pool left behind by a cluster that vanished (here: deleted without its pools) stays while leased…
    await store.createPool({ name: 'west-late', cidr: '10.65.0.0/24', blockSize: 26, purpose: 'pods', cluster: 'west' });
    const lb = await store.leaseBlock('west-late', 'east', 'e1');
    await store.delete('Cluster', 'west');
    await collectGarbage(store, 3_600_000);
    expect((await store.get('IPPool', 'west-late')).cluster).toBe('west');
    // …and goes with the next gc once nothing is leased from it.
    await store.releaseBlock(lb.id);
    await collectGarbage(store, 3_600_000);
    expect(await outcomeCode(store.get('IPPool', 'west-late'))).toBe('NOT_FOUND');
  });
});
