import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ERROR_CATALOG } from '../api/index.js';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { startTestBroker, TEST_ADMIN_TOKEN, type TestBroker } from './testing.js';

let redis: TestRedis;
let broker: TestBroker;
const tok: Record<string, string | undefined> = {};
let eastBlock = '';
let eastIp = '';

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket);
  const t = await broker.admin.createToken({ uses: 2 });
  tok.admin = TEST_ADMIN_TOKEN;
  tok.east = (await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, t.token)).credentials.token;
  tok.west = (await broker.admin.joinCluster({ id: 'west', podCIDRs: ['10.2.0.0/16'] }, t.token)).credentials.token;
  tok.join = (await broker.admin.createToken({ uses: 5 })).token;
  tok.none = undefined;
  tok.garbage = 'c.east.000000000000000000000000000000000000000000000000';
  await broker.admin.createPool({ name: 'p', cidr: '10.50.0.0/16', blockSize: 24, purpose: 'pods' });
  eastBlock = (await broker.admin.leaseBlock('p', { cluster: 'east', node: 'n1' })).id;
  eastIp = (await broker.admin.leaseAddress('p', { cluster: 'east', owner: 'egress/a' })).ip;
  await broker.client(tok.east).putGateway('east', 'gw1', { endpoints: ['192.0.2.1'], tunnelTypes: ['wireguard'] });
});
afterAll(async () => {
  await broker?.stop();
  await redis?.stop();
});

type Who = 'none' | 'garbage' | 'join' | 'admin' | 'east' | 'west';
const gw = { endpoints: ['192.0.2.9'], tunnelTypes: ['vxlan'] };

/** [method, path, body, expected status per principal (others: 401 for none/garbage/join)] */
const MATRIX: [string, string | (() => string), unknown, Partial<Record<Who, number>>][] = [
  ['GET', '/v1/clusters', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/clusters/east', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/gateways', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/blocks', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/addresses', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/ippools', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/subnets', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/watch?since=1', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/tokens', undefined, { admin: 200, east: 403, west: 403 }],
  ['POST', '/v1/tokens', {}, { admin: 201, east: 403, west: 403 }],
  ['DELETE', '/v1/tokens/00000000', undefined, { admin: 404, east: 403, west: 403 }],
  ['POST', '/v1/subnets', { name: 'sx', cidr: '10.60.0.0/16' }, { admin: 201, east: 403, west: 403 }],
  ['PUT', '/v1/subnets/sx', { description: 'd' }, { admin: 200, east: 403, west: 403 }],
  ['DELETE', '/v1/subnets/sx', undefined, { admin: 204, east: 403, west: 403 }],
  // pools: admin pools (no owner) are the admin's; a cluster creates, changes and deletes only pools it owns
  ['POST', '/v1/ippools', { name: 'px', cidr: '10.70.0.0/16' }, { admin: 201 }],
  ['PUT', '/v1/ippools/px', { description: 'd' }, { admin: 200, east: 403, west: 403 }],
  ['DELETE', '/v1/ippools/px', undefined, { admin: 204, east: 403, west: 403 }],
  ['PUT', '/v1/ippools/p', { description: 'd' }, { admin: 200, east: 403, west: 403 }],
  ['DELETE', '/v1/ippools/p', undefined, { east: 403, west: 403 }],
  ['POST', '/v1/ippools', { name: 'pe', cidr: '10.71.0.0/16', cluster: 'east' }, { west: 403, east: 201, admin: 409 }],
  ['POST', '/v1/ippools', { name: 'pw', cidr: '10.72.0.0/16' }, { west: 201 }],
  ['GET', '/v1/ippools/pw', undefined, { admin: 200, east: 200, west: 200 }],
  ['POST', '/v1/ippools', { name: 'pz', cidr: '10.73.0.0/16', cluster: 'west' }, { east: 403 }],
  ['PUT', '/v1/ippools/pe', { description: 'd' }, { west: 403, east: 200, admin: 200 }],
  ['PUT', '/v1/ippools/pe', { cluster: 'west' }, { west: 403, east: 409 }],
  ['PUT', '/v1/ippools/pw', { description: 'd' }, { east: 403, west: 200 }],
  ['DELETE', '/v1/ippools/pw', undefined, { east: 403 }],
  ['DELETE', '/v1/ippools/pw', undefined, { west: 204 }],
  ['DELETE', '/v1/ippools/pe', undefined, { west: 403, east: 204 }],
  ['POST', '/v1/ippools', { name: 'pa', cidr: '10.74.0.0/16', cluster: 'west' }, { admin: 201 }],
  ['DELETE', '/v1/ippools/pa', undefined, { east: 403, admin: 204 }],
  ['PATCH', '/v1/clusters/east', { labels: { a: 'b' } }, { admin: 200, east: 200, west: 403 }],
  ['PUT', '/v1/clusters/east/heartbeat', {}, { admin: 200, east: 200, west: 403 }],
  ['PUT', '/v1/clusters/east/gateways/gw2', gw, { admin: 200, east: 200, west: 403 }],
  ['GET', '/v1/clusters/east/gateways/gw2', undefined, { admin: 200, east: 200, west: 200 }],
  ['DELETE', '/v1/clusters/east/gateways/gw1', undefined, { west: 403 }],
  // egress objects: everyone reads, a cluster writes only its own
  ['PUT', '/v1/clusters/east/egressgateways/eg', { spec: { nodes: ['n1'] } }, { admin: 200, east: 200, west: 403 }],
  ['GET', '/v1/clusters/east/egressgateways/eg', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/egressgateways?cluster=east', undefined, { admin: 200, east: 200, west: 200 }],
  ['DELETE', '/v1/clusters/east/egressgateways/eg', undefined, { west: 403, east: 204 }],
  ['PUT', '/v1/clusters/east/egresspolicies/prod/ep', { spec: { appliedTo: { podSubnet: ['10.1.0.0/24'] } } }, { admin: 200, east: 200, west: 403 }],
  ['GET', '/v1/clusters/east/egresspolicies/prod/ep', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/egresspolicies', undefined, { admin: 200, east: 200, west: 200 }],
  ['DELETE', '/v1/clusters/east/egresspolicies/prod/ep', undefined, { west: 403, admin: 204 }],
  ['PUT', '/v1/clusters/west/egressclusterpolicies/cp', { spec: { appliedTo: {} } }, { admin: 200, east: 403, west: 200 }],
  ['GET', '/v1/clusters/west/egressclusterpolicies/cp', undefined, { admin: 200, east: 200, west: 200 }],
  ['GET', '/v1/egressclusterpolicies', undefined, { admin: 200, east: 200, west: 200 }],
  ['DELETE', '/v1/clusters/west/egressclusterpolicies/cp', undefined, { east: 403, west: 204 }],
  ['POST', '/v1/ippools/p/blocks', { cluster: 'east', node: 'n2' }, { admin: 201, east: 201, west: 403 }],
  ['POST', '/v1/ippools/p/blocks', { cluster: 'east', nodes: ['n3', 'n4'] }, { admin: 201, east: 201, west: 403 }],
  ['POST', '/v1/ippools/p/addresses', { owners: ['y', 'z'], cluster: 'east' }, { admin: 201, east: 201, west: 403 }],
  ['POST', '/v1/ippools/p/addresses', { owners: ['y2'] }, { admin: 400, west: 201, east: 409 }],
  ['DELETE', () => `/v1/blocks/${eastBlock}`, undefined, { west: 403 }],
  ['POST', '/v1/ippools/p/addresses', { owner: 'x', cluster: 'east' }, { admin: 201, east: 201, west: 403 }],
  ['DELETE', () => `/v1/addresses/${eastIp}`, undefined, { west: 403 }],
  ['DELETE', '/v1/clusters/east', undefined, { west: 403 }],
  ['POST', '/v1/clusters', { id: 'south', podCIDRs: ['10.9.0.0/16'] }, { none: 401, garbage: 401, admin: 401, east: 401, west: 401, join: 201 }],
  // issue #10: hostile names and inexact addresses are 400 for every credential (401 without one), never stored
  ['PUT', '/v1/clusters/east/gateways/%0d%0aX-Injected:%201', gw, { admin: 400, east: 400, west: 400 }],
  ['PUT', '/v1/clusters/east/gateways/%00', gw, { admin: 400, east: 400, west: 400 }],
  ['PUT', '/v1/clusters/east/gateways/a%2Fb', gw, { admin: 400, east: 400, west: 400 }],
  ['PUT', '/v1/clusters/east/gateways/$(id)', gw, { admin: 400, east: 400, west: 400 }],
  ['PUT', `/v1/clusters/east/gateways/${'g'.repeat(2000)}`, gw, { admin: 400, east: 400, west: 400 }],
  ['DELETE', '/v1/clusters/east/gateways/$(id)', undefined, { admin: 400, east: 400, west: 400 }],
  ['GET', '/v1/clusters/%0d%0a', undefined, { admin: 400, east: 400, west: 400 }],
  ['PUT', '/v1/clusters/east/gateways/gw3', { endpoints: ['::ffff:192.0.2.9'], tunnelTypes: ['vxlan'] }, { admin: 400, east: 400, west: 400 }],
  ['POST', '/v1/ippools', { name: 'octal', cidr: '010.150.0.0/16' }, { admin: 400, east: 400, west: 400 }],
  ['POST', '/v1/ippools', { name: 'mapped', cidr: '::ffff:10.50.0.0/120' }, { admin: 400, east: 400, west: 400 }],
  ['POST', '/v1/ippools', { name: 'all', cidr: '0.0.0.0/0' }, { admin: 400, east: 400, west: 400 }],
  ['POST', '/v1/subnets', { name: 'all6', cidr: '::/0' }, { admin: 400, east: 403, west: 403 }],
  ['PUT', '/v1/clusters/east/egresspolicies/prod/ep2', { spec: { appliedTo: {}, egressIp: { ipv4: '192.0.2.5' } } }, { admin: 400, east: 400, west: 400 }],
  ['PUT', '/v1/clusters/east/egressgateways/eg2', { spec: { nodes: ['n1'], ippools: { ipv4: ['fd00::1-fd00::9'] } } }, { admin: 400, east: 400, west: 400 }],
];

async function call(method: string, path: string, body: unknown, token: string | undefined): Promise<{ status: number; json: unknown }> {
  const ac = new AbortController();
  const res = await fetch(`${broker.handle.url}${path}`, {
    method,
    signal: ac.signal,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (path.startsWith('/v1/watch') && res.status === 200) {
    ac.abort();
    return { status: 200, json: undefined };
  }
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

describe('authorization matrix', () => {
  it('lets admin do everything, clusters read shared state and write only their own objects', async () => {
    const order: Who[] = ['none', 'garbage', 'join', 'west', 'east', 'admin'];
    const failures: string[] = [];
    for (const [method, p, body, expect_] of MATRIX) {
      for (const who of order) {
        const path = typeof p === 'function' ? p() : p;
        const want = expect_[who] ?? (who === 'none' || who === 'garbage' || who === 'join' ? 401 : undefined);
        if (want === undefined) continue;
        const r = await call(method, path, body, tok[who]);
        if (r.status !== want) failures.push(`${who} ${method} ${path}: ${r.status} (want ${want}) ${JSON.stringify(r.json)}`);
        if (r.status >= 400) {
          const code = (r.json as { error?: { code?: string } })?.error?.code ?? '';
          if (!Object.hasOwn(ERROR_CATALOG, code) || ERROR_CATALOG[code as keyof typeof ERROR_CATALOG].status !== r.status) failures.push(`${who} ${method} ${path}: uncatalogued ${code}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('refuses a join that claims another cluster: a fresh token and public ids and CIDRs are not enough', async () => {
    const before = (await broker.admin.listTokens()).items.find((t) => tok.join?.startsWith(t.id));
    const west = (await broker.admin.getCluster('west'));
    // alpha reads west's id and CIDRs from the shared list, then joins as west with a join token that has uses left.
    const claim = { id: 'west', podCIDRs: west.podCIDRs, serviceCIDRs: west.serviceCIDRs };
    const r = await call('POST', '/v1/clusters', claim, tok.join);
    expect(r).toMatchObject({ status: 409, json: { error: { code: 'ALREADY_EXISTS', details: { rejoin: 'credential' } } } });
    // Another cluster's credential cannot re-join it either.
    expect((await call('POST', '/v1/clusters', claim, tok.east)).status).toBe(401);
    // Nothing changed: the real west still works, its gateway is there, the token kept its uses.
    expect((await call('PUT', '/v1/clusters/west/gateways/gw-w', gw, tok.west)).status).toBe(200);
    expect((await call('DELETE', '/v1/clusters/west/gateways/gw-w', undefined, tok.west)).status).toBe(204);
    expect((await broker.admin.listTokens()).items.find((t) => t.id === before?.id)?.used).toBe(before?.used);
    // West itself re-joins with its credential (id and CIDRs checked): same credential, nothing rotated.
    const again = await call('POST', '/v1/clusters', claim, tok.west);
    expect(again).toMatchObject({ status: 201, json: { cluster: { id: 'west' }, credentials: { token: tok.west } } });
    expect((await call('POST', '/v1/clusters', { ...claim, podCIDRs: ['10.99.0.0/16'] }, tok.west)).status).toBe(409);
    expect((await call('GET', '/v1/clusters/west', undefined, tok.west)).status).toBe(200);
  });

  it('lets a used-up token mint nothing, not even for the cluster it created', async () => {
    const t = await broker.admin.createToken({ uses: 1 });
    const gamma = { id: 'gamma', podCIDRs: ['10.30.0.0/16'] };
    const first = await call('POST', '/v1/clusters', gamma, t.token);
    expect(first.status).toBe(201);
    const cred = (first.json as { credentials: { token: string } }).credentials.token;
    const again = await call('POST', '/v1/clusters', gamma, t.token);
    expect(again).toMatchObject({ status: 401, json: { error: { code: 'JOIN_TOKEN_INVALID', details: { reason: 'used up' } } } });
    expect((await call('POST', '/v1/clusters', { id: 'delta', podCIDRs: ['10.31.0.0/16'] }, t.token)).status).toBe(401);
    // The real credential was not rotated out.
    expect((await call('GET', '/v1/clusters/gamma', undefined, cred)).status).toBe(200);
    // A lost credential is replaced by the admin (or rotated by the cluster itself), never by a join token.
    expect((await call('POST', '/v1/clusters/gamma/credentials', {}, tok.west)).status).toBe(403);
    const rotated = await call('POST', '/v1/clusters/gamma/credentials', {}, tok.admin);
    expect(rotated).toMatchObject({ status: 201, json: { cluster: { id: 'gamma' } } });
    const fresh = (rotated.json as { credentials: { token: string } }).credentials.token;
    expect((await call('GET', '/v1/clusters/gamma', undefined, cred)).status).toBe(401);
    expect((await call('GET', '/v1/clusters/gamma', undefined, fresh)).status).toBe(200);
    expect((await call('DELETE', '/v1/clusters/gamma', undefined, fresh)).status).toBe(204);
  });

  it('refuses a removed cluster\'s credential', async () => {
    const east = broker.client(tok.east);
    await east.removeCluster('east');
    await expect(east.listClusters()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(broker.client(tok.west).listClusters()).resolves.toMatchObject({ items: expect.any(Array) });
  });

  it('removes a leaving cluster\'s free pools and refuses to leave while one of them is leased', async () => {
    const north = await broker.join('north', ['10.3.0.0/16']);
    await north.createPool({ name: 'pn-free', cidr: '10.80.0.0/16', purpose: 'pods' });
    const leased = await north.createPool({ name: 'pn-used', cidr: '10.81.0.0/16', blockSize: 24, purpose: 'pods' });
    expect(leased.cluster).toBe('north');
    const block = await broker.client(tok.west).leaseBlock('pn-used', { cluster: 'west', node: 'w1' });
    await expect(north.removeCluster('north')).rejects.toMatchObject({ code: 'IN_USE', message: expect.stringContaining('pn-used') });
    // Refused means nothing changed: the cluster and both pools are still there.
    await expect(broker.admin.getCluster('north')).resolves.toMatchObject({ id: 'north' });
    expect((await broker.admin.listPools()).items.filter((p) => p.cluster === 'north').map((p) => p.name)).toEqual(['pn-free', 'pn-used']);
    await broker.client(tok.west).releaseBlock(block.id);
    await north.removeCluster('north');
    expect((await broker.admin.listPools()).items.filter((p) => p.cluster === 'north')).toEqual([]);
  });
});
