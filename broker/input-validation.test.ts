import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import { Redis } from 'ioredis';
import type { ERROR_CATALOG } from '../api/index.js';
import { startTestRedis, type TestRedis, redisSnapshot } from '../testing/index.js';
import { startTestBroker, TEST_ADMIN_TOKEN, type TestBroker } from './testing.js';

// Issue #10 items 6-9, over real HTTP on a real redis-server: every refusal is a 400 with a catalogued code and a
// message naming the field and what is wrong, and nothing is stored (the whole keyspace is compared).

let redis: TestRedis;
let broker: TestBroker;
let conn: Redis;
let joinToken = '';

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket);
  conn = new Redis({ path: redis.socket });
  joinToken = (await broker.admin.createToken({ uses: 20 })).token;
  await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, joinToken);
  await broker.admin.createSubnet({ name: 's', cidr: '10.50.0.0/16' });
  await broker.admin.createPool({ name: 'p', cidr: '10.160.0.0/24' });
  await broker.admin.putGateway('east', 'gw', { endpoints: ['192.0.2.1'], tunnelTypes: ['vxlan'] });
  await broker.admin.putEgressGateway('east', 'egw', { spec: { nodes: ['n1'], ippools: { ipv4: ['192.0.2.10-192.0.2.20'] } } });
});
afterAll(async () => {
  conn?.disconnect();
  await broker?.stop();
  await redis?.stop();
});

const snapshot = (): Promise<string> => redisSnapshot(conn);

interface Answer {
  status: number;
  code: string;
  message: string;
}

/** A raw request: the path goes on the wire exactly as written (no client-side normalisation of `..` or `%2f`). */
function send(method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(broker.handle.url);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: url.hostname, port: url.port, method, path,
        headers: { authorization: `Bearer ${token}`, ...(text !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString();
          let err: { code?: string; message?: string } = {};
          try {
            err = (JSON.parse(raw) as { error?: typeof err }).error ?? {};
          } catch {
            /* a non-JSON answer fails the expectations below */
          }
          resolve({ status: res.statusCode ?? 0, code: err.code ?? '', message: err.message ?? raw });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** Sends each request and expects 400 with `code` and a message matching `why`, and an unchanged store. */
async function refused(cases: [method: string, path: string, body: unknown, code: keyof typeof ERROR_CATALOG, why: RegExp, token?: string][]): Promise<void> {
  const before = await snapshot();
  const wrong: string[] = [];
  for (const [method, path, body, code, why, token] of cases) {
    const a = await send(method, path, body, token);
    if (a.status !== 400 || a.code !== code || !why.test(a.message)) wrong.push(`${method} ${path.slice(0, 80)} ${JSON.stringify(body)?.slice(0, 120)} -> ${a.status} ${a.code} ${a.message.slice(0, 200)}`);
  }
  expect(wrong).toEqual([]);
  expect(await snapshot()).toBe(before);
}

describe('exact input parsing at the broker (issue #10)', () => {
  it('refuses leading zeros in IPv4 octets instead of reading them as octal (subnets, pools, join CIDRs, endpoints)', async () => {
    await refused([
      ['POST', '/v1/subnets', { name: 'octal', cidr: '010.150.0.0/16' }, 'INVALID_CIDR', /cidr: not a CIDR: "010\.150\.0\.0\/16" \(leading zero/],
      ['POST', '/v1/ippools', { name: 'octal', cidr: '010.150.0.0/16' }, 'INVALID_CIDR', /cidr: .*leading zero/],
      ['POST', '/v1/ippools', { name: 'octal', cidr: '10.150.00.0/24' }, 'INVALID_CIDR', /leading zero/],
      ['POST', '/v1/ippools', { name: 'octal', cidr: '10.150.0.0/024' }, 'INVALID_CIDR', /prefix must be a decimal/],
      ['POST', '/v1/clusters', { id: 'octal', podCIDRs: ['010.30.0.0/16'] }, 'INVALID_CIDR', /podCIDRs\.0: .*leading zero/, joinToken],
      ['POST', '/v1/clusters', { id: 'octal', podCIDRs: ['10.30.0.0/16'], serviceCIDRs: ['010.31.0.0/16'] }, 'INVALID_CIDR', /serviceCIDRs\.0: .*leading zero/, joinToken],
      ['PUT', '/v1/clusters/east/gateways/gw', { endpoints: ['192.0.02.1'], tunnelTypes: ['vxlan'] }, 'INVALID_IP', /endpoints\.0: .*leading zero/],
      ['DELETE', '/v1/addresses/010.160.0.5', undefined, 'INVALID_PATH_PARAMETER', /path parameter ip: .*leading zero/],
    ]);
    expect((await broker.admin.listPools()).items.map((p) => p.cidr)).toEqual(['10.160.0.0/24']);
  });

  it('refuses IPv4-mapped and IPv4-compatible IPv6 as subnet, pool, pod/service CIDR and gateway endpoint', async () => {
    await refused([
      ['POST', '/v1/ippools', { name: 'mapped', cidr: '::ffff:10.160.0.0/120' }, 'INVALID_CIDR', /cidr: .*IPv4-mapped IPv6 address .*write the IPv4 address 10\.160\.0\.0/],
      ['POST', '/v1/ippools', { name: 'mapped', cidr: '::ffff:a00:0/120' }, 'INVALID_CIDR', /IPv4-mapped/],
      ['POST', '/v1/ippools', { name: 'compat', cidr: '::10.160.0.0/120' }, 'INVALID_CIDR', /IPv4-compatible/],
      ['POST', '/v1/subnets', { name: 'mapped', cidr: '::ffff:10.50.0.0/112' }, 'INVALID_CIDR', /IPv4-mapped/],
      ['POST', '/v1/clusters', { id: 'mapped', podCIDRs: ['::ffff:10.40.0.0/112'] }, 'INVALID_CIDR', /podCIDRs\.0: .*IPv4-mapped/, joinToken],
      ['PUT', '/v1/clusters/east/gateways/gw', { endpoints: ['::ffff:192.0.2.1'], tunnelTypes: ['vxlan'] }, 'INVALID_IP', /endpoints\.0: .*IPv4-mapped/],
      ['DELETE', '/v1/addresses/::ffff:10.160.0.5', undefined, 'INVALID_PATH_PARAMETER', /IPv4-mapped/],
    ]);
  });

  it('refuses the default routes, broadcast, loopback, link-local, multicast and unspecified ranges as pools, subnets and cluster CIDRs', async () => {
    const special = /SPECIAL|special-purpose|address space/;
    await refused([
      ['POST', '/v1/ippools', { name: 'all4', cidr: '0.0.0.0/0' }, 'SPECIAL_PURPOSE_ADDRESS', /cidr: "0\.0\.0\.0\/0": 0\.0\.0\.0\/0 is the whole IPv4 address space \(the default route\)/],
      ['POST', '/v1/ippools', { name: 'all6', cidr: '::/0' }, 'SPECIAL_PURPOSE_ADDRESS', /::\/0 is the whole IPv6 address space/],
      ['POST', '/v1/ippools', { name: 'bcast', cidr: '255.255.255.255/32' }, 'SPECIAL_PURPOSE_ADDRESS', /limited broadcast/],
      ['POST', '/v1/ippools', { name: 'lo', cidr: '127.0.0.0/8' }, 'SPECIAL_PURPOSE_ADDRESS', /loopback/],
      ['POST', '/v1/ippools', { name: 'll', cidr: '169.254.0.0/16' }, 'SPECIAL_PURPOSE_ADDRESS', /link-local/],
      ['POST', '/v1/ippools', { name: 'mc', cidr: '239.1.0.0/16' }, 'SPECIAL_PURPOSE_ADDRESS', /multicast/],
      ['POST', '/v1/ippools', { name: 'zero', cidr: '0.0.0.0/24' }, 'SPECIAL_PURPOSE_ADDRESS', /unspecified/],
      ['POST', '/v1/ippools', { name: 'lo6', cidr: '::1/128' }, 'SPECIAL_PURPOSE_ADDRESS', /loopback/],
      ['POST', '/v1/ippools', { name: 'un6', cidr: '::/128' }, 'SPECIAL_PURPOSE_ADDRESS', /unspecified/],
      ['POST', '/v1/ippools', { name: 'll6', cidr: 'fe80::/64' }, 'SPECIAL_PURPOSE_ADDRESS', /link-local/],
      ['POST', '/v1/ippools', { name: 'mc6', cidr: 'ff02::/16' }, 'SPECIAL_PURPOSE_ADDRESS', /multicast/],
      ['POST', '/v1/subnets', { name: 'all4', cidr: '0.0.0.0/0' }, 'SPECIAL_PURPOSE_ADDRESS', special],
      ['POST', '/v1/clusters', { id: 'greedy', podCIDRs: ['0.0.0.0/0'] }, 'SPECIAL_PURPOSE_ADDRESS', /podCIDRs\.0: .*default route/, joinToken],
      ['POST', '/v1/clusters', { id: 'greedy', podCIDRs: ['10.30.0.0/16'], serviceCIDRs: ['::/0'] }, 'SPECIAL_PURPOSE_ADDRESS', /serviceCIDRs\.0/, joinToken],
      ['PUT', '/v1/clusters/east/gateways/gw', { endpoints: ['0.0.0.0'], tunnelTypes: ['vxlan'] }, 'SPECIAL_PURPOSE_ADDRESS', /endpoints\.0: .*unspecified/],
      ['PUT', '/v1/clusters/east/gateways/gw', { endpoints: ['224.0.0.1'], tunnelTypes: ['vxlan'] }, 'SPECIAL_PURPOSE_ADDRESS', /multicast/],
      ['PUT', '/v1/clusters/east/gateways/gw', { endpoints: ['255.255.255.255'], tunnelTypes: ['vxlan'] }, 'SPECIAL_PURPOSE_ADDRESS', /broadcast/],
    ]);
  });

  it('refuses hostile gateway names and every other malformed path parameter before touching the store', async () => {
    const body = { endpoints: ['192.0.2.9'], tunnelTypes: ['vxlan'] };
    const bad = /path parameter (name|id|namespace|ip): /;
    const names = ['%0d%0aX-Injected:%201', '%00', '..', '%2e%2e', 'a%2Fb', '$(id)', '%24(id)', 'a'.repeat(2000), 'A', '-a', 'a-', 'a_b', '%20', 'x%0a'];
    await refused([
      ...names.map((n): [string, string, unknown, 'INVALID_PATH_PARAMETER', RegExp] => ['PUT', `/v1/clusters/east/gateways/${n}`, body, 'INVALID_PATH_PARAMETER', /path parameter name: must be 1-63 characters/]),
      ...names.map((n): [string, string, unknown, 'INVALID_PATH_PARAMETER', RegExp] => ['DELETE', `/v1/clusters/east/gateways/${n}`, undefined, 'INVALID_PATH_PARAMETER', bad]),
      ['PUT', `/v1/clusters/${'b'.repeat(2000)}/gateways/gw`, body, 'INVALID_PATH_PARAMETER', /path parameter id: .* 2000 characters/],
      ['GET', '/v1/clusters/%0d%0aX', undefined, 'INVALID_PATH_PARAMETER', /path parameter id/],
      ['PATCH', '/v1/clusters/$(id)', { labels: { a: 'b' } }, 'INVALID_PATH_PARAMETER', /path parameter id/],
      ['DELETE', '/v1/clusters/..', undefined, 'INVALID_PATH_PARAMETER', /path parameter id/],
      ['PUT', '/v1/clusters/%00/heartbeat', {}, 'INVALID_PATH_PARAMETER', /path parameter id/],
      ['GET', '/v1/subnets/a%2Fb', undefined, 'INVALID_PATH_PARAMETER', /path parameter name/],
      ['PUT', '/v1/subnets/S', { description: 'x' }, 'INVALID_PATH_PARAMETER', /path parameter name/],
      ['DELETE', '/v1/subnets/%0a', undefined, 'INVALID_PATH_PARAMETER', /path parameter name/],
      ['GET', '/v1/ippools/..', undefined, 'INVALID_PATH_PARAMETER', /path parameter name/],
      ['PUT', '/v1/ippools/$(id)', { description: 'x' }, 'INVALID_PATH_PARAMETER', /path parameter name/],
      ['DELETE', `/v1/ippools/${'p'.repeat(2000)}`, undefined, 'INVALID_PATH_PARAMETER', /path parameter name/],
      ['POST', '/v1/ippools/%00/blocks', { cluster: 'east', node: 'n1' }, 'INVALID_PATH_PARAMETER', /path parameter name/],
      ['POST', '/v1/ippools/a%2Fb/addresses', { owner: 'x', cluster: 'east' }, 'INVALID_PATH_PARAMETER', /path parameter name/],
      ['DELETE', '/v1/tokens/..', undefined, 'INVALID_PATH_PARAMETER', /path parameter id: must be a token id/],
      ['DELETE', '/v1/tokens/ABCDEF01', undefined, 'INVALID_PATH_PARAMETER', /path parameter id: must be a token id/],
      ['DELETE', '/v1/blocks/%0d%0a', undefined, 'INVALID_PATH_PARAMETER', /path parameter id: must be a block id/],
      ['DELETE', '/v1/addresses/1.2.3.4:80', undefined, 'INVALID_PATH_PARAMETER', /path parameter ip: not an IP address/],
      ['DELETE', '/v1/addresses/::1::1', undefined, 'INVALID_PATH_PARAMETER', /path parameter ip/],
      ['PUT', '/v1/clusters/east/egressgateways/a%2Fb', { spec: { nodes: ['n1'] } }, 'INVALID_PATH_PARAMETER', /path parameter name: must be a Kubernetes object name/],
      ['PUT', '/v1/clusters/east/egresspolicies/%00/ep', { spec: { appliedTo: {} } }, 'INVALID_PATH_PARAMETER', /path parameter namespace/],
      ['DELETE', '/v1/clusters/east/egressclusterpolicies/$(id)', undefined, 'INVALID_PATH_PARAMETER', /path parameter name/],
    ]);
    expect((await broker.admin.listGateways()).items.map((g) => g.name)).toEqual(['gw']);
  });

  it('refuses malformed egress addresses, ranges and CIDRs, naming the field', async () => {
    const egw = '/v1/clusters/east/egressgateways/egw';
    const ep = '/v1/clusters/east/egresspolicies/prod/ep';
    const ecp = '/v1/clusters/east/egressclusterpolicies/ecp';
    const pol = (egressIP: unknown, extra: Record<string, unknown> = {}): unknown => ({ spec: { egressGatewayName: 'egw', egressIP, appliedTo: { podSubnet: ['10.1.0.0/24'] }, ...extra } });
    await refused([
      ['PUT', ep, pol({ ipv4: '::1::1' }), 'INVALID_IP', /spec\.egressIP\.ipv4: not an IP address: "::1::1" \(more than one "::"\)/],
      ['PUT', ep, pol({ ipv4: '1.2.3.4:80' }), 'INVALID_IP', /spec\.egressIP\.ipv4: not an IP address/],
      ['PUT', ep, pol({ ipv4: '::ffff:1.2.3.4' }), 'INVALID_IP', /spec\.egressIP\.ipv4: .*IPv4-mapped/],
      ['PUT', ep, pol({ ipv4: 'fd00::1' }), 'INVALID_IP', /spec\.egressIP\.ipv4: .*IPv6 address; an IPv4 address is expected/],
      ['PUT', ep, pol({ ipv4: '192.0.2.010' }), 'INVALID_IP', /leading zero/],
      ['PUT', ep, pol({ ipv4: '224.0.0.5' }), 'SPECIAL_PURPOSE_ADDRESS', /spec\.egressIP\.ipv4: .*multicast/],
      ['PUT', ep, pol({ ipv6: '10.101.0.11' }), 'INVALID_IP', /spec\.egressIP\.ipv6: .*IPv4 address; an IPv6 address is expected/],
      ['PUT', ep, pol({ ipv6: 'fe80::1%eth0' }), 'INVALID_IP', /zone/],
      ['PUT', ep, { spec: { appliedTo: { podSubnet: ['10.1.0.1/24'] } } }, 'INVALID_CIDR', /spec\.appliedTo\.podSubnet\.0: .*host bits set/],
      ['PUT', ep, { spec: { appliedTo: { podSubnet: [':::/64'] } } }, 'INVALID_CIDR', /spec\.appliedTo\.podSubnet\.0: .*more than one "::"/],
      ['PUT', ep, { spec: { appliedTo: { podSubnet: ['10.1.0.0/24'] }, destSubnet: ['8.8.8.8/8'] } }, 'INVALID_CIDR', /spec\.destSubnet\.0: .*host bits/],
      ['PUT', ep, { spec: { appliedTo: { podSubnet: ['10.1.0.0/24'] }, destSubnet: ['::ffff:8.0.0.0/104'] } }, 'INVALID_CIDR', /spec\.destSubnet\.0: .*IPv4-mapped/],
      ['PUT', ecp, { spec: { appliedTo: { podSubnet: ['010.1.0.0/24'] } } }, 'INVALID_CIDR', /spec\.appliedTo\.podSubnet\.0: .*leading zero/],
      ['PUT', egw, { spec: { nodes: ['n1'], ippools: { ipv4: ['192.0.2.20-192.0.2.10'] } } }, 'INVALID_IP_RANGE', /spec\.ippools\.ipv4\.0: .*first is after last/],
      ['PUT', egw, { spec: { nodes: ['n1'], ippools: { ipv4: ['192.0.2.10-fd00::1'] } } }, 'INVALID_IP_RANGE', /mixes IPv4 and IPv6/],
      ['PUT', egw, { spec: { nodes: ['n1'], ippools: { ipv4: ['fd00::1-fd00::9'] } } }, 'INVALID_IP_RANGE', /spec\.ippools\.ipv4\.0: .*only IPv4 belongs in this list/],
      ['PUT', egw, { spec: { nodes: ['n1'], ippools: { ipv6: ['192.0.2.10'] } } }, 'INVALID_IP_RANGE', /spec\.ippools\.ipv6\.0: .*only IPv6/],
      ['PUT', egw, { spec: { nodes: ['n1'], ippools: { ipv4: ['192.0.2.010-192.0.2.20'] } } }, 'INVALID_IP_RANGE', /leading zero/],
      ['PUT', egw, { spec: { nodes: ['N 1'] } }, 'INVALID_ARGUMENT', /spec\.nodes\.0/],
    ]);
  });

  it('refuses a PUT whose body names another object than its path', async () => {
    await refused([
      ['PUT', '/v1/subnets/s', { name: 'other', description: 'x' }, 'INVALID_ARGUMENT', /^name in the body must match the path$/],
      ['PUT', '/v1/ippools/p', { name: 'other', purpose: 'pods' }, 'INVALID_ARGUMENT', /^name in the body must match the path$/],
    ]);
  });

  it('refuses unknown keys inside spec, naming the key', async () => {
    await refused([
      ['PUT', '/v1/clusters/east/egressgateways/egw', { spec: { nodes: ['n1'], nodeSelectr: {} } }, 'INVALID_ARGUMENT', /spec: Unrecognized key: "nodeSelectr"/],
      ['PUT', '/v1/clusters/east/egressgateways/egw', { spec: { nodes: ['n1'], ippools: { ipv4: [], ipv5: [] } } }, 'INVALID_ARGUMENT', /spec\.ippools: Unrecognized key: "ipv5"/],
      ['PUT', '/v1/clusters/east/egressgateways/egw', { spec: { nodeSelector: { matchLabel: {} } } }, 'INVALID_ARGUMENT', /spec\.nodeSelector: Unrecognized key: "matchLabel"/],
      ['PUT', '/v1/clusters/east/egresspolicies/prod/ep', { spec: { appliedTo: { podSubnet: ['10.1.0.0/24'] }, egressIp: { ipv4: '192.0.2.10' } } }, 'INVALID_ARGUMENT', /spec: Unrecognized key: "egressIp"/],
      ['PUT', '/v1/clusters/east/egresspolicies/prod/ep', { spec: { appliedTo: { podSubnet: ['10.1.0.0/24'], namespaceSelector: {} } } }, 'INVALID_ARGUMENT', /spec\.appliedTo: Unrecognized key: "namespaceSelector"/],
      ['PUT', '/v1/clusters/east/egresspolicies/prod/ep', { spec: { appliedTo: {}, egressIP: { ipv4: '192.0.2.10', pool: 'x' } } }, 'INVALID_ARGUMENT', /spec\.egressIP: Unrecognized key: "pool"/],
      ['PUT', '/v1/clusters/east/egressclusterpolicies/ecp', { spec: { appliedTo: { podSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', value: 'x' }] } } } }, 'INVALID_ARGUMENT', /Unrecognized key: "value"/],
    ]);
  });

  it('still accepts ordinary unicast ranges, Class E, NAT64 and 0.0.0.0/0 as an egress destination', async () => {
    await expect(broker.admin.createPool({ name: 'classe', cidr: '240.10.0.0/24' })).resolves.toMatchObject({ cidr: '240.10.0.0/24' });
    await expect(broker.admin.createPool({ name: 'v6', cidr: 'FD00:0DB8::/112' })).resolves.toMatchObject({ cidr: 'fd00:db8::/112' });
    await expect(broker.admin.createSubnet({ name: 'nat64', cidr: '64:ff9b::/96' })).resolves.toMatchObject({ cidr: '64:ff9b::/96' });
    await expect(broker.admin.putGateway('east', 'gw6', { endpoints: ['2001:db8::1', '127.0.0.1'], tunnelTypes: ['vxlan'] })).resolves.toMatchObject({ endpoints: ['2001:db8::1', '127.0.0.1'] });
    await expect(broker.admin.putEgressPolicy('east', 'prod', 'ok', { spec: { egressGatewayName: 'egw', egressIP: { ipv4: '192.0.2.11' }, appliedTo: { podSubnet: ['10.1.0.0/24'] }, destSubnet: ['0.0.0.0/0', '::/0'] } }))
      .resolves.toMatchObject({ spec: { destSubnet: ['0.0.0.0/0', '::/0'] } });
  });
});
