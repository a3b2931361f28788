import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { isStraitError, type AddressLease, type Block, type BrokerClient } from '../api/index.js';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { startTestBroker, type TestBroker } from './testing.js';

let redis: TestRedis;
let broker: TestBroker;
const creds: string[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket);
  const t = await broker.admin.createToken({ uses: 4 });
  for (const id of ['c0', 'c1', 'c2', 'c3']) {
    const j = await broker.admin.joinCluster({ id, podCIDRs: [`10.${100 + creds.length}.0.0/16`] }, t.token);
    creds.push(j.credentials.token);
  }
});
afterAll(async () => {
  await broker?.stop();
  await redis?.stop();
});

function inside(ip: string, cidr: string): boolean {
  const addr = ipaddr.parse(ip);
  const [net, bits] = ipaddr.parseCIDR(cidr);
  return addr.kind() === net.kind() && addr.match(net, bits);
}

describe('64 concurrent clients leasing from one pool', () => {
  let pool64: BrokerClient[] = [];
  beforeAll(() => {
    pool64 = Array.from({ length: 64 }, (_, i) => broker.client(creds[i % creds.length]));
  });
  it('never hand out a block or an address twice (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          v6: fc.boolean(),
          // pool capacity in blocks: sometimes more than asked for, sometimes fewer (exhaustion under contention)
          blockBits: fc.integer({ min: 3, max: 8 }),
          hostBits: fc.integer({ min: 2, max: 4 }),
          opsPerClient: fc.integer({ min: 2, max: 6 }),
          addressShare: fc.double({ min: 0, max: 0.6, noNaN: true }),
          releaseShare: fc.double({ min: 0, max: 0.3, noNaN: true }),
        }),
        async (p) => {
          run++;
          const pool = `prop${run}`;
          const bits = p.v6 ? 128 : 32;
          const blockSize = bits - p.hostBits;
          const prefix = blockSize - p.blockBits;
          const base = p.v6 ? `fd10:${run.toString(16)}::/${prefix}` : `172.${16 + (run % 16)}.0.0/${prefix}`;
          const network = p.v6 ? ipaddr.IPv6.networkAddressFromCIDR(base) : ipaddr.IPv4.networkAddressFromCIDR(base);
          const netCidr = `${network.toString()}/${prefix}`;
          await broker.admin.createPool({ name: pool, cidr: netCidr, blockSize, purpose: 'pods' });

          const clients: BrokerClient[] = pool64;
          const blocks: Block[] = [];
          const addresses: AddressLease[] = [];
          const released = new Set<string>();
          let exhausted = 0;
          await Promise.all(
            clients.map(async (c, i) => {
              const cluster = `c${i % creds.length}`;
              for (let k = 0; k < p.opsPerClient; k++) {
                try {
                  // Every third operation is a batch of two (one atomic Lua call), mixed with single leases.
                  const batch = (i + k) % 3 === 0;
                  if ((i * 7 + k * 13) % 100 < p.addressShare * 100) {
                    if (batch) addresses.push(...(await c.leaseAddresses(pool, { owners: [`o-${i}-${k}`, `o-${i}-${k}-b`] })).items);
                    else addresses.push(await c.leaseAddress(pool, { owner: `o-${i}-${k}` }));
                  } else {
                    const got = batch ? (await c.leaseBlocks(pool, { cluster, nodes: [`n${i}`, `n${i}`] })).items : [await c.leaseBlock(pool, { cluster, node: `n${i}` })];
                    const b = got[0]!;
                    blocks.push(...got);
                    if ((i * 11 + k * 3) % 100 < p.releaseShare * 100) {
                      await c.releaseBlock(b.id);
                      released.add(b.id);
                    }
                  }
                } catch (e) {
                  if (isStraitError(e, 'POOL_EXHAUSTED')) exhausted++;
                  else throw e;
                }
              }
            }),
          );
          // Held at the end: no two live blocks overlap, no two addresses are equal, no address is inside a live block.
          const live = blocks.filter((b) => !released.has(b.id));
          expect(new Set(live.map((b) => b.cidr)).size).toBe(live.length);
          expect(new Set(addresses.map((a) => a.ip)).size).toBe(addresses.length);
          for (const a of addresses) for (const b of live) expect(inside(a.ip, b.cidr)).toBe(false);
          for (const b of live) expect(inside(b.cidr.split('/')[0]!, netCidr)).toBe(true);
          // The broker agrees with what the clients were told.
          const listed = await broker.admin.listBlocks({ pool });
          expect(listed.items.map((b) => b.id).sort()).toEqual(live.map((b) => b.id).sort());
          const listedA = await broker.admin.listAddresses({ pool });
          expect(listedA.items.map((a) => a.ip).sort()).toEqual(addresses.map((a) => a.ip).sort());
          // Exhaustion is only reported when the pool really is full.
          // (A batch of two may be refused with one block left.)
          if (exhausted > 0 && addresses.length === 0) expect(live.length + released.size).toBeGreaterThanOrEqual(2 ** p.blockBits - 1);
          await Promise.all([...live.map((b) => broker.admin.releaseBlock(b.id)), ...addresses.map((a) => broker.admin.releaseAddress(a.ip))]);
          await broker.admin.deletePool(pool);
        },
      ),
      { numRuns: 6 },
    );
  });
});
