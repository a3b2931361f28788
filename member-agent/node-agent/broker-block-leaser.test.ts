import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StraitError, type BrokerClient } from '../../api/index.js';
import { createLogger } from '../../host/index.js';
import { MemoryAllocationStore } from '../../ipam/index.js';
import { startTestRedis, type TestRedis, startTestBroker, type TestBroker } from '../../testing/index.js';
import { BrokerBlockLeaser } from './broker-block-leaser.js';

// A real broker on a real redis-server. The client below does the real lease and then loses the answer, as a
// broker whose Redis connection died after the write does (503 OUTCOME_UNKNOWN once the client's retries run out).
let redis: TestRedis;
let broker: TestBroker;
let client: BrokerClient;

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket);
  await broker.admin.createPool({ name: 'pods', cidr: '10.91.0.0/24', blockSize: 28, purpose: 'pods' });
  const t = await broker.admin.createToken({ uses: 1 });
  client = broker.client((await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, t.token)).credentials.token);
}, 30_000);

afterAll(async () => {
  await broker?.stop();
  await redis?.stop();
});

describe('BrokerBlockLeaser when the answer to a block lease is lost', () => {
  it('adopts the block the broker leased, so it is used and returned instead of leaking', async () => {
    const lossy = Object.create(client) as BrokerClient;
    lossy.leaseBlock = async (pool, req) => {
      await client.leaseBlock(pool, req);
      throw new StraitError('OUTCOME_UNKNOWN', 'the connection was lost after the lease was sent');
    };
    const local = new MemoryAllocationStore();
    const leaser = new BrokerBlockLeaser(lossy, local, 'east', createLogger('test', 'silent'));
    await expect(leaser.lease({ pool: 'pods', node: 'n1', leasedAt: Date.now(), candidates: [], heldElsewhere: () => undefined })).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
    const atBroker = (await broker.admin.listBlocks({ cluster: 'east' })).items.filter((b) => b.node === 'n1');
    expect(atBroker).toHaveLength(1);
    // Known locally now: the engine allocates in it and returns it to the broker once it is empty.
    expect((await leaser.list({ node: 'n1' })).map((b) => b.cidr)).toEqual([atBroker[0]!.cidr]);
    expect(await leaser.release('pods', atBroker[0]!.cidr, 'n1')).toBe(true);
    expect((await broker.admin.listBlocks({ cluster: 'east' })).items).toHaveLength(0);
  });
});
