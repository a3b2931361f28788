import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, createLogger } from '../../host/index.js';
import { AgentServer } from '../node-agent/agent-server.js';
import { FakeIpamService } from '../node-agent/fake-ipam-service.js';
import { repoRoot } from '../node-agent/repo-root.js';
import { runPlugin } from './plugin.js';

const dir = mkdtempSync(join(tmpdir(), 'strait-plugin-'));
const socket = join(dir, 'agent.sock');
const ipam = new FakeIpamService();
const server = new AgentServer(socket, ipam, createLogger('test'));
const conf = (sock = socket): string => JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: sock } });
const env = (cmd: string, id = 'c1'): NodeJS.ProcessEnv => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' });

beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('runPlugin (the Node implementation)', () => {
  it('answers VERSION without the agent', async () => {
    const r = await runPlugin({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
  });

  it('forwards ADD and DEL to the agent', async () => {
    const add = await runPlugin(env('ADD'), conf());
    expect(add.exitCode).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ ips: [{ address: '10.9.0.10/24' }] });
    expect(await runPlugin(env('DEL'), conf())).toEqual({ exitCode: 0, stdout: '' });
  });

  it('reports an unreachable agent as code 11 (try again later)', async () => {
    const r = await runPlugin(env('ADD'), conf(join(dir, 'nobody.sock')));
    expect(r.exitCode).toBe(1);
    const err = JSON.parse(r.stdout) as { code: number; msg: string };
    expect(err.code).toBe(11);
    expect(err.msg).toMatch(/node agent is not reachable/);
  });

  it('reports a bad socket path as invalid netconf (7) and bad JSON as decode failure (6)', async () => {
    expect(JSON.parse((await runPlugin(env('ADD'), conf('relative.sock'))).stdout)).toMatchObject({ code: 7 });
    expect(JSON.parse((await runPlugin(env('ADD'), 'nope')).stdout)).toMatchObject({ code: 6 });
    expect(JSON.parse((await runPlugin({}, conf())).stdout)).toMatchObject({ code: 4 });
  });
});

describe('bin/strait-ipam (shell fast path and Node fallback)', () => {
  const bin = join(repoRoot(), 'bin', 'strait-ipam');
  const built = existsSync(join(repoRoot(), 'dist', 'member-agent', 'cni-plugin', 'main.js'));
  const exec = (e: NodeJS.ProcessEnv, input: string) => run([bin], { env: { PATH: process.env.PATH, ...e }, input, allowFailure: true });

  it('gives the same answers on the fast path as the Node plugin', async () => {
    const add = await exec(env('ADD', 'shim-1'), conf());
    expect(add.code).toBe(0);
    const again = await runPlugin(env('ADD', 'shim-1'), conf());
    expect(add.stdout).toBe(again.stdout);
    const bad = await exec({ ...env('ADD'), CNI_CONTAINERID: '' }, conf());
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: 4 });
    expect((await exec(env('DEL', 'shim-1'), conf())).code).toBe(0);
  });

  it('finds the socket in a pretty-printed netconf (multi-line, spaces around the colon)', async () => {
    const pretty = JSON.stringify(JSON.parse(conf()), null, 2).replace('"socket":', '"socket" :');
    const add = await exec(env('ADD', 'shim-2'), pretty);
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ ips: [{ address: expect.stringMatching(/^10\.9\.0\./) }] });
    expect((await exec(env('DEL', 'shim-2'), pretty)).code).toBe(0);
  });

  (built ? it : it.skip)('answers VERSION itself and falls back to Node for an unreachable agent (needs npm run build)', async () => {
    const v = await exec({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    expect(JSON.parse(v.stdout)).toMatchObject({ supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
    const r = await exec(env('ADD'), conf(join(dir, 'nobody.sock')));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 11 });
  });
});
