import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRoot } from '../testing/index.js';
import { newRunId, run } from '../host/index.js';
import { createTwoGateways, pingOnce, pingUntil, type TwoGateways } from '../scenarios/index.js';
import { generateWireguardKeyPair, WireguardDriver, type TunnelPeer } from './index.js';

/**
 * The failover move on wireguard-go: a remote cluster's CIDRs leave one peer for another in one reconcile, read
 * and written over the UAPI socket. `wg` and `ip` are wrapped on PATH by scripts that log each call and exec the
 * real tool, so the test sees every process the driver forks: none for the move, no `wg` at all.
 */
describeRoot('wireguard-go through its UAPI socket (root)', () => {
  let topo: TwoGateways;
  const drivers: WireguardDriver[] = [];
  const shims = mkdtempSync(join(tmpdir(), 'strait-wg-shims-'));
  const calls = join(shims, 'calls.log');
  const oldPath = process.env.PATH;
  let realWg = '';
  const forks = (): string[] => readFileSync(calls, 'utf8').split('\n').filter(Boolean);

  beforeAll(async () => {
    topo = await createTwoGateways(newRunId());
    realWg = (await run(['sh', '-c', 'command -v wg'])).stdout.trim();
    const realIp = (await run(['sh', '-c', 'command -v ip'])).stdout.trim();
    for (const [tool, real] of [['wg', realWg], ['ip', realIp]] as const) {
      writeFileSync(join(shims, tool), `#!/bin/sh\necho "${tool} $*" >> '${calls}'\nexec '${real}' "$@"\n`);
      chmodSync(join(shims, tool), 0o755);
    }
    writeFileSync(calls, '');
    process.env.PATH = `${shims}:${oldPath ?? ''}`;
  }, 60_000);

  afterAll(async () => {
    process.env.PATH = oldPath;
    for (const d of drivers) await d.remove().catch(() => undefined);
    await topo?.destroy();
    rmSync(shims, { recursive: true, force: true });
  }, 60_000);

  it('moves CIDRs between two peers in one reconcile without forking; `wg show` sees the move', async () => {
    const ka = generateWireguardKeyPair();
    const kb = generateWireguardKeyPair();
    const kc = generateWireguardKeyPair();
    const a = new WireguardDriver({ ...topo.a.config('wireguard', { wireguardPrivateKey: ka.privateKey }), implementation: 'wireguard-go' });
    const b = new WireguardDriver({ ...topo.b.config('wireguard', { wireguardPrivateKey: kb.privateKey }), implementation: 'wireguard-go' });
    drivers.push(a, b);
    // gwb is B's real gateway; gwc a second gateway of B's cluster that is not on the wire (the one that died).
    const gwb = (cidr: string): TunnelPeer => ({ id: 'gwb', cluster: 'c2', endpoint: topo.b.underlayIp, remoteCidrs: [cidr], publicKey: kb.publicKey });
    const gwc = (cidr: string): TunnelPeer => ({ id: 'gwc', cluster: 'c2', endpoint: '192.168.77.3', remoteCidrs: [cidr], publicKey: kc.publicKey });
    const spare = '10.31.0.0/24';
    await a.init();
    await b.init();
    await b.reconcile([{ id: 'gwa', cluster: 'c1', endpoint: topo.a.underlayIp, remoteCidrs: [topo.a.podCidr], publicKey: ka.publicKey }]);
    await a.reconcile([gwc(topo.b.podCidr), gwb(spare)]);
    expect(await pingOnce(topo.a.netns, topo.a.podIp, topo.b.podIp)).toBe(false); // B's pods are behind the dead gateway

    const before = forks().length;
    await a.reconcile([gwb(topo.b.podCidr), gwc(spare)]);
    expect(forks().slice(before)).toEqual([]);

    const dump = await run([realWg, 'show', a.ifname, 'dump'], { netns: topo.a.netns });
    const allowed = new Map(dump.stdout.trim().split('\n').slice(1).map((l) => [l.split('\t')[0], l.split('\t')[3]]));
    expect(Object.fromEntries(allowed)).toEqual({ [kb.publicKey]: topo.b.podCidr, [kc.publicKey]: spare });
    expect(await pingUntil(topo.a.netns, topo.a.podIp, topo.b.podIp, 15_000)).toBe(true);
    const s = await a.status();
    expect(s.implementation).toBe('wireguard-go');
    expect(s.peers.map((p) => [p.id, p.remoteCidrs, p.state])).toEqual([
      ['gwb', [topo.b.podCidr], 'up'],
      ['gwc', [spare], 'connecting'],
    ]);
    await a.rotateLocalKeys({ wireguardPrivateKey: generateWireguardKeyPair().privateKey });
    expect(forks().filter((c) => c.startsWith('wg ') || c.includes(' wg '))).toEqual([]);
  }, 90_000);
});
