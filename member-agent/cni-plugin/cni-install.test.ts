import { describe, it, expect, afterAll } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../host/index.js';
import { isStraitError } from '../../api/index.js';
import { installCni, straitConflist, uninstallCni } from './cni-install.js';

const dir = mkdtempSync(join(tmpdir(), 'strait-cni-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('strait install-cni (the node agent DaemonSet\'s init container)', () => {
  it('installs an executable strait-ipam and the conflist; a second run replaces them; uninstall removes both', async () => {
    const binDir = join(dir, 'opt/cni/bin');
    const confDir = join(dir, 'etc/cni/net.d');
    const r = installCni({ binDir, confDir, socketPath: '/run/strait/node-agent.sock' });
    expect(statSync(r.binary).mode & 0o777).toBe(0o755);
    expect(JSON.parse(readFileSync(r.conflist, 'utf8'))).toEqual(straitConflist());
    // The installed copy answers VERSION on its own, as the runtime calls it on the host.
    const v = await run([r.binary], { env: { ...process.env, CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}' });
    expect(JSON.parse(v.stdout)).toMatchObject({ cniVersion: '1.0.0', supportedVersions: expect.arrayContaining(['1.0.0', '0.4.0']) });
    writeFileSync(r.conflist, 'garbage');
    installCni({ binDir, confDir, socketPath: '/var/run/s.sock' });
    const conflist = JSON.parse(readFileSync(r.conflist, 'utf8')) as { plugins: Record<string, unknown>[] };
    expect(conflist).toMatchObject({ plugins: [{ type: 'ptp', ipam: { type: 'strait-ipam', socket: '/var/run/s.sock', podGateway: { ipv4: '169.254.1.1' } } }, { type: 'portmap' }] });
    // No masquerade on the node: the egress gateways SNAT by the pod's own address (cni-install.ts).
    expect(conflist.plugins[0]!.ipMasq).toBeUndefined();
    expect(uninstallCni({ binDir, confDir })).toEqual({ binary: true, conflist: true });
    expect(existsSync(r.binary) || existsSync(r.conflist)).toBe(false);
    expect(uninstallCni({ binDir, confDir })).toEqual({ binary: false, conflist: false });
  });

  it.each([
    [{ binDir: 'opt/cni/bin', confDir: '/x' }, /--bin-dir must be an absolute path/],
    [{ binDir: '/x', confDir: '/y', socketPath: 'run/s.sock' }, /--socket must be an absolute path/],
    [{ binDir: '/x', confDir: '/y', source: '/nonexistent/strait-ipam' }, /does not exist/],
  ])('refuses %j and writes nothing', (o, msg) => {
    const before = existsSync('/x') || existsSync('/y');
    const err = (() => { try { installCni(o); return undefined; } catch (e) { return e; } })();
    expect(isStraitError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(msg);
    expect(existsSync('/x') || existsSync('/y')).toBe(before);
  });
});
