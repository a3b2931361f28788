import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerClient } from '../api/index.js';
import { createLogger } from '../host/index.js';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { startBroker, type BrokerHandle } from './server.js';
import { certHash, initTls } from './tls.js';

let redis: TestRedis;
let broker: BrokerHandle;
const dir = mkdtempSync(join(tmpdir(), 'strait-broker-tls-'));
const MAIN = new URL('../dist/cli/main.js', import.meta.url).pathname;

beforeAll(async () => {
  redis = await startTestRedis();
  const tls = await initTls(dir);
  const env = process.env.STRAIT_ADMIN_TOKEN;
  delete process.env.STRAIT_ADMIN_TOKEN;
  try {
    broker = await startBroker({
      listen: '127.0.0.1:0',
      stateDir: dir,
      redisOptions: { path: redis.socket },
      role: 'api',
      tlsCert: tls.cert,
      tlsKey: tls.key,
      logger: createLogger('broker', 'silent'),
    });
  } finally {
    if (env !== undefined) process.env.STRAIT_ADMIN_TOKEN = env;
  }
});
afterAll(async () => {
  await broker?.stop({ stopRedis: false });
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], {
      env: { ...process.env, STRAIT_BROKER: broker.url, STRAIT_TOKEN: broker.adminToken, STRAIT_CA: join(dir, 'tls', 'ca.crt') },
    }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('broker server', () => {
  it('generates the admin token into the state dir with mode 0600', () => {
    const file = join(dir, 'admin.token');
    expect(readFileSync(file, 'utf8').trim()).toBe(broker.adminToken);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('serves TLS with a CA whose hash goes into join tokens', async () => {
    const caPem = readFileSync(join(dir, 'tls', 'ca.crt'), 'utf8');
    const c = new BrokerClient({ baseUrl: broker.url, token: broker.adminToken, caPem });
    try {
      expect(broker.url.startsWith('https://')).toBe(true);
      const t = await c.createToken();
      expect(t.caHash).toBe(certHash(caPem));
      expect(t.caHash).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(t.broker).toBe(broker.url);
      // A member holding only the token pins the CA by its hash.
      expect(await BrokerClient.fetchPinnedCa(broker.url, t.caHash)).toBe(caPem);
      await expect(BrokerClient.fetchPinnedCa(broker.url, `sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'CA_PIN_MISMATCH' });
      // Without the CA the certificate is not trusted.
      const untrusting = new BrokerClient({ baseUrl: broker.url, token: broker.adminToken });
      await expect(untrusting.health()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      untrusting.close();
      expect(await c.ready()).toEqual({ status: 'ready' });
      const metrics = await c.metrics();
      for (const m of ['strait_broker_request_duration_seconds_bucket', 'strait_broker_leases{type="block"}', 'strait_broker_watchers', 'strait_broker_queue_depth']) {
        expect(metrics).toContain(m);
      }
    } finally {
      c.close();
    }
  });

  it('drives the API from the built CLI: tables for people, -o json for scripts, coded errors', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
    // (Node start-up is slow on a loaded machine: three CLI runs, the rest through the client.)
    const c = new BrokerClient({ baseUrl: broker.url, token: broker.adminToken, caPem: readFileSync(join(dir, 'tls', 'ca.crt'), 'utf8') });
    await c.createSubnet({ name: 'cli', cidr: '10.30.0.0/16' });
    c.close();
    const created = await cli(['pool', 'create', 'clipool', '--cidr', '10.30.0.0/20', '--subnet', 'cli', '--block-size', '24']);
    expect(created.stdout).toMatch(/^NAME\s+CIDR\s+BLOCK/);
    expect(created.stdout).toContain('10.30.0.0/20');
    const listed = JSON.parse((await cli(['pool', 'list', '-o', 'json'])).stdout) as { items: { name: string }[] };
    expect(listed.items.map((p) => p.name)).toContain('clipool');
    const inUse = await cli(['subnet', 'delete', 'cli']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain('error IN_USE');
  });
});
