import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../host/index.js';
import { runPlugin } from '../cni-plugin/plugin.js';
import { startStandaloneNodeAgent, type RunningNodeAgent } from './standalone-agent.js';

const dir = mkdtempSync(join(tmpdir(), 'strait-agent-'));
const socketPath = join(dir, 'agent.sock');
const configFile = join(dir, 'pools.yaml');
let agent: RunningNodeAgent;

const conf = (ipam: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: socketPath, ...ipam } });
const env = (id: string, cmd = 'ADD'): NodeJS.ProcessEnv => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' });
const json = (s: string): Record<string, unknown> => JSON.parse(s) as Record<string, unknown>;

const start = (): Promise<RunningNodeAgent> =>
  startStandaloneNodeAgent({ configFile, socketPath, stateDir: join(dir, 'state'), nodeName: 'n1', log: createLogger('test') });

beforeAll(async () => {
  // YAML on purpose: the agent reads JSON and YAML.
  writeFileSync(
    configFile,
    [
      'pools:',
      '  - {name: p1, subnet: 10.77.0.0/24, ips: ["10.77.0.10-10.77.0.12"], gateway: 10.77.0.1, default: true}',
      '  - {name: v6, subnet: "fd00:77::/64", ips: ["fd00:77::10-fd00:77::1f"], gateway: "fd00:77::1"}',
    ].join('\n'),
  );
  agent = await start();
});
afterAll(async () => {
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('standalone node agent (real engine, durable file store)', () => {
  it('allocates from the default pool with a default route; repeated ADD is stable; DEL frees', async () => {
    const a = await runPlugin(env('c1'), conf());
    expect(a.exitCode).toBe(0);
    expect(json(a.stdout)).toEqual({
      cniVersion: '1.0.0',
      ips: [{ address: '10.77.0.10/24', gateway: '10.77.0.1' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.77.0.1' }],
      dns: {},
    });
    expect((await runPlugin(env('c1'), conf())).stdout).toBe(a.stdout);
    expect((await runPlugin(env('c1', 'CHECK'), conf())).exitCode).toBe(0);
    expect((await runPlugin(env('c1', 'DEL'), conf())).exitCode).toBe(0);
    expect((await runPlugin(env('c1', 'DEL'), conf())).exitCode).toBe(0);
    expect(json((await runPlugin(env('c1', 'CHECK'), conf())).stdout)).toMatchObject({ code: 102 });
  });

  it('gives dual stack when the netconf names a pool per family', async () => {
    const r = json((await runPlugin(env('ds'), conf({ ippools: { ipv4: ['p1'], ipv6: ['v6'] } }))).stdout);
    expect(r.ips).toEqual([
      { address: expect.stringMatching(/^10\.77\.0\.1[0-2]\/24$/), gateway: '10.77.0.1' },
      { address: 'fd00:77::10/64', gateway: 'fd00:77::1' },
    ]);
    expect(r.routes).toEqual([
      { dst: '0.0.0.0/0', gw: '10.77.0.1' },
      { dst: '::/0', gw: 'fd00:77::1' },
    ]);
    await runPlugin(env('ds', 'DEL'), conf());
  });

  it('reports an exhausted pool as code 100 and an unknown pool as code 101', async () => {
    for (const id of ['x1', 'x2', 'x3']) expect((await runPlugin(env(id), conf())).exitCode).toBe(0);
    const full = json((await runPlugin(env('x4'), conf())).stdout);
    expect(full).toMatchObject({ code: 100 });
    expect(String(full.msg)).toMatch(/p1/);
    expect(json((await runPlugin(env('x5'), conf({ ippools: { ipv4: ['nope'] } }))).stdout)).toMatchObject({ code: 101 });
    for (const id of ['x1', 'x2', 'x3']) await runPlugin(env(id, 'DEL'), conf());
  });

  it('keeps allocations across a restart and refuses a second agent on the same socket', async () => {
    const a = json((await runPlugin(env('keep'), conf())).stdout);
    await expect(start()).rejects.toMatchObject({ code: 'AGENT_SOCKET_IN_USE' });
    await agent.stop();
    agent = await start();
    expect(json((await runPlugin(env('keep'), conf())).stdout)).toEqual(a);
    const b = json((await runPlugin(env('other'), conf())).stdout);
    expect(b.ips).not.toEqual(a.ips);
  });

  it('rejects a config file without pools', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"subnets":[]}');
    await expect(startStandaloneNodeAgent({ configFile: bad, socketPath: join(dir, 'b.sock'), stateDir: join(dir, 'b'), nodeName: 'n', log: createLogger('t') })).rejects.toMatchObject({
      code: 'AGENT_CONFIG_INVALID',
    });
  });
});
