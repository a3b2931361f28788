import { describe, it, expect } from '@jest/globals';
import { StraitError } from '../../api/index.js';
import { buildResult, handleCniCall, parseCniArgs } from './cni-handler.js';
import { FakeIpamService as FakeIpam } from './fake-ipam-service.js';
import type { CniEnv } from './wire-protocol.js';

const env = (cmd: string, extra: CniEnv = {}): CniEnv => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', ...extra });
const conf = (ipam: Record<string, unknown> = {}, version = '1.0.0'): string =>
  JSON.stringify({ cniVersion: version, name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: '/tmp/x.sock', ...ipam } });
const parse = (s: string): Record<string, unknown> => JSON.parse(s) as Record<string, unknown>;

describe('handleCniCall', () => {
  it('answers ADD with a 1.0.0 result and the same address on a repeated ADD', async () => {
    const ipam = new FakeIpam();
    const a = await handleCniCall({ env: env('ADD'), stdin: conf() }, ipam);
    expect(a.ok).toBe(true);
    expect(parse(a.stdout)).toEqual({
      cniVersion: '1.0.0',
      ips: [{ address: '10.9.0.10/24', gateway: '10.9.0.1' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.9.0.1' }],
      dns: {},
    });
    const b = await handleCniCall({ env: env('ADD'), stdin: conf() }, ipam);
    expect(b.stdout).toBe(a.stdout);
  });

  it('adds the per-IP version field for 0.3.x and 0.4.0', async () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
      const r = await handleCniCall({ env: env('ADD'), stdin: conf({}, v) }, new FakeIpam());
      expect(parse(r.stdout)).toMatchObject({ cniVersion: v, ips: [{ version: '4', address: '10.9.0.10/24' }] });
    }
  });

  it('uses K8S_POD_UID from CNI_ARGS and passes netconf pools', async () => {
    const ipam = new FakeIpam();
    const args = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_UID=uid-1';
    await handleCniCall({ env: env('ADD', { CNI_ARGS: args }), stdin: conf({ ippools: { ipv4: ['p1'] } }) }, ipam);
    expect(ipam.calls).toEqual(['add uid-1/eth0 p1']);
  });

  it('DEL is idempotent and frees; CHECK fails after DEL', async () => {
    const ipam = new FakeIpam();
    await handleCniCall({ env: env('ADD'), stdin: conf() }, ipam);
    expect((await handleCniCall({ env: env('CHECK'), stdin: conf() }, ipam)).ok).toBe(true);
    expect(await handleCniCall({ env: env('DEL'), stdin: conf() }, ipam)).toEqual({ ok: true, stdout: '' });
    expect(await handleCniCall({ env: env('DEL', { CNI_NETNS: '' }), stdin: conf() }, ipam)).toEqual({ ok: true, stdout: '' });
    const c = await handleCniCall({ env: env('CHECK'), stdin: conf() }, ipam);
    expect(c.ok).toBe(false);
    expect(parse(c.stdout)).toMatchObject({ code: 102 });
  });

  it('CHECK fails when prevResult does not carry the held address', async () => {
    const ipam = new FakeIpam();
    await handleCniCall({ env: env('ADD'), stdin: conf() }, ipam);
    const stdin = JSON.stringify({ ...parse(conf()), prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.9.0.99/24' }] } });
    expect(parse((await handleCniCall({ env: env('CHECK'), stdin }, ipam)).stdout)).toMatchObject({ code: 102 });
  });

  it.each([
    ['missing env', env('ADD', { CNI_CONTAINERID: '' }), conf(), 4],
    ['unknown command', env('FROB'), conf(), 4],
    ['not JSON', env('ADD'), '{nope', 6],
    ['no cniVersion', env('ADD'), JSON.stringify({ ipam: { type: 'strait-ipam' } }), 7],
    ['old version', env('ADD'), conf({}, '0.2.0'), 1],
    ['bad ippools', env('ADD'), conf({ ippools: { ipv4: 'p1' } }), 7],
    ['unknown ippools key', env('ADD'), conf({ ippools: { ip4: ['p1'] } }), 7],
    ['wrong type', env('ADD'), conf({ type: 'host-local' }), 7],
    ['podGateway not an object', env('ADD'), conf({ podGateway: '169.254.1.1' }), 7],
    ['podGateway of the wrong family', env('ADD'), conf({ podGateway: { ipv4: 'fe80::1' } }), 7],
    ['unknown podGateway key', env('ADD'), conf({ podGateway: { v4: '169.254.1.1' } }), 7],
  ])('rejects %s with a CNI error', async (_name, e, stdin, code) => {
    const ipam = new FakeIpam();
    const r = await handleCniCall({ env: e, stdin }, ipam);
    expect(r.ok).toBe(false);
    const err = parse(r.stdout);
    expect(err.code).toBe(code);
    expect(typeof err.msg).toBe('string');
    expect(typeof err.cniVersion).toBe('string');
    expect(ipam.calls).toEqual([]);
  });

  it('maps engine errors to CNI codes', async () => {
    const ipam = new FakeIpam();
    ipam.failWith = new StraitError('POOL_EXHAUSTED', 'pool p1 has no free address', { pool: 'p1' });
    const r = parse((await handleCniCall({ env: env('ADD'), stdin: conf() }, ipam)).stdout);
    expect(r).toMatchObject({ code: 100, msg: 'pool p1 has no free address' });
    ipam.failWith = new Error('disk on fire');
    expect(parse((await handleCniCall({ env: env('ADD'), stdin: conf() }, ipam)).stdout)).toMatchObject({ code: 999 });
  });
});

describe('buildResult: ipam.podGateway (the gateway ptp needs when a pool names none)', () => {
  const res = { ips: [{ family: 4 as const, address: '10.11.201.5/24', pool: 'team' }, { family: 6 as const, address: 'fd00::5/64', pool: 'v6' }, { family: 4 as const, address: '10.77.0.9/24', gateway: '10.77.0.1', pool: 'gw' }], routes: [] };
  it('fills the gateway of addresses whose pool names none, by family, and keeps a pool\'s own', () => {
    expect((buildResult('1.0.0', res, {}, { ipv4: '169.254.1.1', ipv6: 'fe80::1' }) as { ips: unknown[] }).ips).toEqual([
      { address: '10.11.201.5/24', gateway: '169.254.1.1' }, { address: 'fd00::5/64', gateway: 'fe80::1' }, { address: '10.77.0.9/24', gateway: '10.77.0.1' },
    ]);
    expect((buildResult('1.0.0', res, {}) as { ips: unknown[] }).ips).toEqual([{ address: '10.11.201.5/24' }, { address: 'fd00::5/64' }, { address: '10.77.0.9/24', gateway: '10.77.0.1' }]);
  });
});

describe('parseCniArgs', () => {
  it('splits K=V pairs and ignores junk', () => {
    expect(parseCniArgs('A=1;B=x=y;junk;;C=')).toEqual({ A: '1', B: 'x=y', C: '' });
  });
});
