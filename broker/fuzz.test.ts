import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import http from 'node:http';
import net from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { z } from 'zod';
import {
  AddressBatchLeaseRequest,
  AddressLeaseRequest,
  BlockBatchLeaseRequest,
  BlockLeaseRequest,
  ClusterJoinRequest,
  ClusterPatch,
  EgressClusterPolicyPut,
  EgressGatewayPut,
  EgressPolicyPut,
  ERROR_CATALOG,
  GatewayPut,
  NAME_PATTERN,
  HeartbeatRequest,
  IPPoolCreate,
  IPPoolPut,
  SubnetCreate,
  SubnetPut,
  TokenCreateRequest,
} from '../api/index.js';
import { startTestRedis, type TestRedis, redisSnapshot } from '../testing/index.js';
import { startTestBroker, TEST_ADMIN_TOKEN, type TestBroker } from './testing.js';

let redis: TestRedis;
let broker: TestBroker;
let conn: Redis;
let joinToken = '';
let agent: http.Agent;

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket);
  conn = new Redis({ path: redis.socket });
  agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  joinToken = (await broker.admin.createToken({ uses: 10 })).token;
  await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, joinToken);
  await broker.admin.createSubnet({ name: 's', cidr: '10.50.0.0/16' });
  await broker.admin.createPool({ name: 'p', cidr: '10.50.0.0/20', subnet: 's', blockSize: 26 });
  await broker.admin.leaseBlock('p', { cluster: 'east', node: 'n1' });
  await broker.admin.putGateway('east', 'gw', { endpoints: ['192.0.2.1'], tunnelTypes: ['vxlan'] });
  await broker.admin.putEgressGateway('east', 'egw', { spec: { nodes: ['n1'] } });
  await broker.admin.putEgressPolicy('east', 'prod', 'ep', { spec: { appliedTo: { podSubnet: ['10.1.0.0/24'] } } });
});
afterAll(async () => {
  agent?.destroy();
  conn?.disconnect();
  await broker?.stop();
  await redis?.stop();
});

const snapshot = (): Promise<string> => redisSnapshot(conn);

interface Case {
  method: string;
  path: string;
  body: string | undefined;
  token: string;
  contentType?: string;
  contentEncoding?: string;
}

function send(c: Case): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(broker.handle.url);
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: c.method,
        path: c.path,
        agent,
        headers: {
          authorization: `Bearer ${c.token}`,
          ...(c.body !== undefined ? { 'content-type': c.contentType ?? 'application/json', 'content-length': Buffer.byteLength(c.body, c.contentEncoding !== undefined ? 'latin1' : 'utf8') } : {}),
          ...(c.contentEncoding !== undefined ? { 'content-encoding': c.contentEncoding } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    // latin1: encoded cases carry raw bytes (compressed or garbage) in a string.
    req.end(c.body === undefined ? undefined : Buffer.from(c.body, c.contentEncoding !== undefined ? 'latin1' : 'utf8'));
  });
}

const VALID: [string, string, z.ZodType, Record<string, unknown>, 'admin' | 'join'][] = [
  ['POST', '/v1/tokens', TokenCreateRequest, { ttlSeconds: 60, uses: 1 }, 'admin'],
  ['POST', '/v1/clusters', ClusterJoinRequest, { id: 'west', podCIDRs: ['10.2.0.0/16'], serviceCIDRs: ['10.3.0.0/16'] }, 'join'],
  ['PATCH', '/v1/clusters/east', ClusterPatch, { labels: { a: 'b' } }, 'admin'],
  ['PUT', '/v1/clusters/east/heartbeat', HeartbeatRequest, {}, 'admin'],
  ['PUT', '/v1/clusters/east/gateways/gw', GatewayPut, { endpoints: ['192.0.2.2'], tunnelTypes: ['wireguard'], publicKeys: { wireguard: 'k' }, priority: 5, health: 'Healthy' }, 'admin'],
  ['POST', '/v1/subnets', SubnetCreate, { name: 's2', cidr: '10.60.0.0/16' }, 'admin'],
  ['PUT', '/v1/subnets/s', SubnetPut, { description: 'x' }, 'admin'],
  ['POST', '/v1/ippools', IPPoolCreate, { name: 'p2', cidr: '10.70.0.0/16', blockSize: 24, purpose: 'pods' }, 'admin'],
  ['PUT', '/v1/ippools/p', IPPoolPut, { description: 'x' }, 'admin'],
  ['POST', '/v1/ippools/p/blocks', z.union([BlockLeaseRequest, BlockBatchLeaseRequest]), { cluster: 'east', node: 'n2' }, 'admin'],
  ['POST', '/v1/ippools/p/blocks', z.union([BlockLeaseRequest, BlockBatchLeaseRequest]), { cluster: 'east', nodes: ['n2', 'n3'] }, 'admin'],
  ['POST', '/v1/ippools/p/addresses', z.union([AddressLeaseRequest, AddressBatchLeaseRequest]), { owner: 'egress/x', cluster: 'east' }, 'admin'],
  ['POST', '/v1/ippools/p/addresses', z.union([AddressLeaseRequest, AddressBatchLeaseRequest]), { owners: ['egress/x', 'egress/y'], cluster: 'east' }, 'admin'],
  ['PUT', '/v1/clusters/east/egressgateways/egw', EgressGatewayPut, { spec: { nodes: ['n1', 'n2'], ippools: { ipv4: ['192.0.2.10-192.0.2.20'] } }, labels: { a: 'b' } }, 'admin'],
  ['PUT', '/v1/clusters/east/egresspolicies/prod/ep', EgressPolicyPut, { spec: { egressGatewayName: 'egw', appliedTo: { podSelector: { matchLabels: { app: 'x' } } }, destSubnet: ['0.0.0.0/0'] } }, 'admin'],
  ['PUT', '/v1/clusters/east/egressclusterpolicies/ecp', EgressClusterPolicyPut, { spec: { egressIP: { useNodeIP: true }, appliedTo: {} } }, 'admin'],
];

/** Address text that must be refused wherever it lands (as a CIDR, an address or a range). */
const ADDRESS_SHAPES = [
  '010.150.0.0/16', '10.150.00.0/24', '10.0.0.0/08', '::ffff:10.160.0.0/120', '::ffff:a00:0/120', '::10.160.0.0/120', '0.0.0.0/0', '::/0',
  '255.255.255.255/32', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', 'fe80::/64', 'ff02::/16', '::/128', '::1/128', ':::/64', '10.1.0.1/24',
  '::1::1', '1.2.3.4:80', '::ffff:1.2.3.4', '010.101.0.11', '0.0.0.0', '224.0.0.1', '255.255.255.255', 'fe80::1%eth0', '192.0.2.20-192.0.2.10',
  '192.0.2.10-fd00::1', 'fd00::1-fd00::9', '192.0.2.10-192.0.2.11-192.0.2.12',
];
const hostileScalar = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('10.0.0.1/8', '300.1.1.1/8', 'fd00::/129', '10.0.0.0/33', ' 10.0.0.0/8', '10.0.0.0/8\n', '::ffff:1.2.3.4/120', '010.0.0.0/8', '10.1/16',
    'UPPER', '../etc', '%2e%2e', 'a'.repeat(64), '-a', 'a-', 'é', '', '1e309', 'NaN', '__proto__', 'constructor', 'vxlan ', 'Healthy\u0000', '-1', '9'.repeat(30)),
  // Issue #10: octal and mapped addresses, special-purpose ranges, malformed egress addresses and ranges.
  fc.constantFrom(...ADDRESS_SHAPES),
  fc.constantFrom(-1, 0, 1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, -0, 0.5, 129),
);
const hostileValue = fc.oneof(hostileScalar, fc.array(hostileScalar, { maxLength: 5 }), fc.dictionary(fc.string({ maxLength: 8 }), hostileScalar, { maxKeys: 4 }));

/** A body: a valid one with one field replaced/added/removed, arbitrary JSON, or bytes that are not JSON. */
function bodies(valid: Record<string, unknown>): fc.Arbitrary<{ body: string; contentType?: string }> {
  const keys = [...Object.keys(valid), '__proto__', 'constructor', 'resourceVersion', 'extra', 'id', 'cidr', 'name'];
  const mutated = fc.record({ k: fc.constantFrom(...keys), v: hostileValue, drop: fc.boolean() }).map(({ k, v, drop }) => {
    const copy: Record<string, unknown> = { ...valid };
    if (drop && k in copy) delete copy[k];
    else Object.defineProperty(copy, k, { value: v, enumerable: true, configurable: true, writable: true });
    return { body: JSON.stringify(copy) };
  });
  const anyJson = fc.jsonValue({ maxDepth: 4 }).map((v) => ({ body: JSON.stringify(v) }));
  const notJson = fc.oneof(
    // (An empty body counts as `{}`: that is a legitimate request, not fuzz.)
    fc.string({ minLength: 1, maxLength: 60 }).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    }),
    fc.constantFrom('{', '{"a":', '[1,2', 'nul', '{"a":1}}', "{'a':1}", '{"a":1,}', '\u0000', '[' .repeat(5000), '{"a":"\\ud800"', 'true', '"x"', '1'),
  ).map((body) => ({ body }));
  const oddType = fc.jsonValue({ maxDepth: 2 }).map((v) => ({ body: JSON.stringify(v), contentType: 'text/plain' }));
  return fc.oneof({ weight: 5, arbitrary: mutated }, { weight: 2, arbitrary: anyJson }, { weight: 2, arbitrary: notJson }, { weight: 1, arbitrary: oddType });
}

async function runCases(cases: Case[]): Promise<string[]> {
  const bad: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const r = await send(c);
      let code = '';
      try {
        code = (JSON.parse(r.text) as { error: { code: string } }).error.code;
      } catch {
        /* reported below */
      }
      const spec = ERROR_CATALOG[code as keyof typeof ERROR_CATALOG];
      if (r.status < 400 || r.status >= 500 || !spec || spec.status !== r.status) {
        bad.push(`${c.method} ${c.path} ${c.body?.slice(0, 200)} -> ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return bad;
}

describe('fuzzing every endpoint with malformed and hostile input', () => {
  // (Minutes on a loaded 2-core machine.)
  jest.setTimeout(480_000);
  it('answers 4xx with a catalogued code and leaves state unchanged (>= 10k cases)', async () => {
    const before = await snapshot();
    let total = 0;
    const failures: string[] = [];
    for (const [i, [method, path, schema, valid, who]] of VALID.entries()) {
      const token = who === 'join' ? joinToken : TEST_ADMIN_TOKEN;
      const generated = fc.sample(bodies(valid), { numRuns: 700, seed: 42 + i });
      const cases: Case[] = [];
      for (const g of generated) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(g.body);
        } catch {
          parsed = Symbol('not json');
        }
        // Bodies the schema accepts are legitimate requests, not fuzz: skip them.
        if (typeof parsed !== 'symbol' && g.contentType === undefined && schema.safeParse(parsed).success) continue;
        if (g.contentType !== undefined && schema.safeParse(parsed).success) continue;
        cases.push({ method, path, body: g.body, token, ...(g.contentType ? { contentType: g.contentType } : {}) });
      }
      // Oversized bodies: 413 with a catalogued code.
      cases.push({ method, path, body: JSON.stringify({ ...valid, pad: 'x'.repeat(70 * 1024) }), token });
      // Bad and unknown Content-Encodings (the valid body, compressed or not): 415, never a 500.
      const plain = JSON.stringify(valid);
      for (const [enc, body] of [
        ['gzip', plain], ['br', plain], ['deflate', '\u00de\u00ad\u00be\u00ef garbage'], ['gzip', gzipSync(plain).toString('latin1')],
        ['deflate', deflateSync(plain).toString('latin1')], ['br', brotliCompressSync(plain).toString('latin1')], ['compress', plain], ['x-unknown', plain],
        ['gzip', gzipSync('{"a":').toString('latin1')], ['GZIP', plain], ['identity, gzip', plain],
      ] as const) {
        cases.push({ method, path, body, token, contentEncoding: enc });
        // Without credentials the answer is 401 whatever the body: authentication comes first.
        cases.push({ method, path, body, token: 'garbage', contentEncoding: enc });
      }
      cases.push({ method, path, body: '{"not json', token: 'garbage' });
      total += cases.length;
      failures.push(...(await runCases(cases)));
      expect(failures.slice(0, 10)).toEqual([]);
      expect(await snapshot()).toBe(before);
    }
    // Hostile path parameters and queries on the bodiless endpoints.
    const seg = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }).filter((x) => x.trim() !== '' && x !== '.'), fc.constantFrom('..', '%00', 'a/b', '10.0.0.1/24', '::', 'fd00::zz', ' ', '%ff', 'p.0', 'p.0.0', 'east/../west', '\r\nX-Injected: 1', '$(id)', '`id`', 'a'.repeat(2000), 'gw\u0000', '010.50.0.1', '::ffff:10.50.0.1', 'GW', 'gw.', '-gw'));
    const pathCases = fc.sample(
      fc.record({ kind: fc.constantFrom('clusters', 'blocks', 'addresses', 'tokens', 'subnets', 'ippools', 'gw', 'watch', 'egw', 'egp', 'ecp'), s: seg, method: fc.constantFrom('DELETE', 'GET') }),
      { numRuns: 1300, seed: 7 },
    ).map(({ kind, s, method }): Case => {
      const e = encodeURIComponent(s);
      const path = kind === 'gw' ? `/v1/clusters/${e}/gateways/${e}` : kind === 'watch' ? `/v1/watch?since=${e}`
        : kind === 'egw' ? `/v1/clusters/${e}/egressgateways/${e}` : kind === 'egp' ? `/v1/clusters/${e}/egresspolicies/${e}/${e}`
        : kind === 'ecp' ? `/v1/clusters/${e}/egressclusterpolicies/${e}` : `/v1/${kind}/${e}`;
      return { method: kind === 'watch' ? 'GET' : method, path, body: undefined, token: TEST_ADMIN_TOKEN };
    }).filter((c) => !(c.method === 'GET' && /^\/v1\/watch\?since=\d*$/.test(c.path)) && !(c.method === 'GET' && c.path.includes('/gateways/') === false && /\/v1\/(clusters|subnets|ippools)\/(east|s|p)$/.test(c.path)) && !(c.method === 'GET' && c.path === '/v1/clusters/east/gateways/gw'));
    // Hostile gateway names on PUT with a valid body (issue #10: CR LF, NUL, `..`, `$(id)`, 2,000 characters).
    const gwPuts = fc.sample(seg, { numRuns: 300, seed: 11 }).filter((x) => !NAME_PATTERN.test(x)).map((x): Case => ({
      method: 'PUT', path: `/v1/clusters/east/gateways/${encodeURIComponent(x)}`, body: JSON.stringify({ endpoints: ['192.0.2.2'], tunnelTypes: ['vxlan'] }), token: TEST_ADMIN_TOKEN,
    }));
    pathCases.push(...gwPuts);
    total += pathCases.length;
    failures.push(...(await runCases(pathCases)));
    expect(await snapshot()).toBe(before);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(10_000);
  }, 240_000); // >= 10k requests: about a minute alone, several on a loaded 2-core machine

  it('refuses malformed egress specs deep inside spec: bad addresses, ranges, CIDRs and unknown keys (issue #10)', async () => {
    const before = await snapshot();
    const SPECS: [string, z.ZodType, Record<string, unknown>][] = [
      ['/v1/clusters/east/egressgateways/egw', EgressGatewayPut, { nodes: ['n1'], nodeSelector: { matchExpressions: [{ key: 'a', operator: 'Exists' }] }, ippools: { ipv4: ['192.0.2.10-192.0.2.20'], ipv6: ['fd00::10-fd00::20'] } }],
      ['/v1/clusters/east/egresspolicies/prod/ep', EgressPolicyPut, { egressGatewayName: 'egw', egressIP: { ipv4: '192.0.2.11', ipv6: 'fd00::11' }, appliedTo: { podSubnet: ['10.1.0.0/24'] }, destSubnet: ['0.0.0.0/0', 'fd00::/64'] }],
      ['/v1/clusters/east/egressclusterpolicies/ecp', EgressClusterPolicyPut, { egressIP: { allocatorPolicy: 'default' }, appliedTo: { namespaceSelector: { matchLabels: { a: 'b' } }, podSubnet: ['10.1.0.0/24'] }, destSubnet: ['192.0.2.0/24'] }],
    ];
    type Path = (string | number)[];
    const leaves = (v: unknown, at: Path = []): Path[] => (typeof v === 'string' ? [at] : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => leaves(x, [...at, Array.isArray(v) ? Number(k) : k])) : []);
    const objects = (v: unknown, at: Path = []): Path[] => (v && typeof v === 'object' ? [...(Array.isArray(v) ? [] : [at]), ...Object.entries(v).flatMap(([k, x]) => objects(x, [...at, Array.isArray(v) ? Number(k) : k]))] : []);
    const set = (root: Record<string, unknown>, at: Path, fn: (o: Record<string, unknown>, k: string | number) => void): Record<string, unknown> => {
      const copy = structuredClone(root);
      let o: Record<string, unknown> = copy;
      for (const k of at.slice(0, -1)) o = o[k as string] as Record<string, unknown>;
      fn(o, at[at.length - 1]!);
      return copy;
    };
    const cases: Case[] = [];
    for (const [path, schema, spec] of SPECS) {
      expect(schema.safeParse({ spec }).success).toBe(true);
      const variants: Record<string, unknown>[] = [];
      for (const leaf of leaves(spec)) for (const shape of ADDRESS_SHAPES) variants.push(set(spec, leaf, (o, k) => { o[k as string] = shape; }));
      for (const at of objects(spec)) for (const key of ['bogus', 'egressIp', 'ipv5', '__proto__', 'podSubnets']) {
        variants.push(at.length === 0 ? { ...spec, [key]: 'x' } : set(spec, [...at, key], (o, k) => { Object.defineProperty(o, k, { value: 'x', enumerable: true, configurable: true, writable: true }); }));
      }
      for (const v of variants) {
        const body = JSON.stringify({ spec: v });
        // A fixed egress IP must be a plain unicast address of its own family: no shape above may pass there.
        const fixed = ['ipv4', 'ipv6'].some((f) => JSON.stringify((v.egressIP as Record<string, unknown> | undefined)?.[f]) !== JSON.stringify((spec.egressIP as Record<string, unknown> | undefined)?.[f]));
        if (fixed) expect([body, schema.safeParse(JSON.parse(body)).success]).toEqual([body, false]);
        if (schema.safeParse(JSON.parse(body)).success) continue;
        cases.push({ method: 'PUT', path, body, token: TEST_ADMIN_TOKEN });
      }
    }
    expect(cases.length).toBeGreaterThan(300);
    expect((await runCases(cases)).slice(0, 10)).toEqual([]);
    expect(await snapshot()).toBe(before);
  });

  it('keeps answering correctly beside paused watchers and clients dribbling bodies', async () => {
    const url = new URL(broker.handle.url);
    const open = (head: string): Promise<net.Socket> => new Promise((resolve) => {
      const sock = net.connect(Number(url.port), url.hostname, () => {
        sock.write(head);
        sock.pause();
        resolve(sock);
      });
      sock.on('error', () => undefined);
    });
    const before = await snapshot();
    const held = await Promise.all([
      ...Array.from({ length: 10 }, () => open(`GET /v1/watch?since=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_ADMIN_TOKEN}\r\n\r\n`)),
      ...VALID.map(([method, path], i) => open(`${method} ${path} HTTP/1.1\r\nHost: x\r\n${i % 2 ? `Authorization: Bearer ${TEST_ADMIN_TOKEN}\r\n` : ''}Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"a`)),
    ]);
    try {
      const cases: Case[] = VALID.flatMap(([method, path]) => [
        { method, path, body: '{"a":', token: TEST_ADMIN_TOKEN },
        { method, path, body: '{}', token: TEST_ADMIN_TOKEN, contentEncoding: 'gzip' },
        { method, path, body: '{"a":', token: 'garbage' },
      ]);
      expect((await runCases(cases)).slice(0, 10)).toEqual([]);
      expect(await broker.admin.ready()).toEqual({ status: 'ready' });
    } finally {
      for (const h of held) h.destroy();
    }
    expect(await snapshot()).toBe(before);
  });
});
