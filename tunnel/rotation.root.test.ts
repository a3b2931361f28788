import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { describeRoot } from '../testing/index.js';
import { newRunId, withNetns } from '../host/index.js';
import { createTwoGateways, pingUntil, type TwoGateways } from '../scenarios/index.js';
import {
  generateIpsecKeyPair,
  generateIpsecPsk,
  generateWireguardKeyPair,
  WireguardDriver,
  type TunnelDriver,
  type TunnelPeer,
} from './index.js';
import { IpsecDriver } from './ipsec-driver.js';

/** Runs `ping -i 0.05` from A's pod address to B's while `during` runs; returns [sent, received]. */
async function pingDuring(topo: TwoGateways, during: () => Promise<void>): Promise<[number, number]> {
  const [file, ...args] = withNetns(['ping', '-n', '-i', '0.05', '-W', '1', '-I', topo.a.podIp, topo.b.podIp], topo.a.netns);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await new Promise((r) => setTimeout(r, 500));
    await during();
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    child.kill('SIGINT');
    await done;
  }
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
}

describeRoot('key rotation while a ping runs', () => {
  let topo: TwoGateways;
  const drivers: TunnelDriver[] = [];
  beforeAll(async () => {
    topo = await createTwoGateways(newRunId());
  });
  afterAll(async () => {
    for (const d of drivers) await d.remove().catch(() => undefined);
    await topo?.destroy();
  });

  it('wireguard: both gateways rotate their private keys', async () => {
    let ka = generateWireguardKeyPair();
    let kb = generateWireguardKeyPair();
    const a = new WireguardDriver(topo.a.config('wireguard', { wireguardPrivateKey: ka.privateKey }));
    const b = new WireguardDriver(topo.b.config('wireguard', { wireguardPrivateKey: kb.privateKey }));
    drivers.push(a, b);
    const pa = (): TunnelPeer => ({ id: 'gwa', cluster: 'c1', endpoint: topo.a.underlayIp, remoteCidrs: [topo.a.podCidr], publicKey: ka.publicKey });
    const pb = (): TunnelPeer => ({ id: 'gwb', cluster: 'c2', endpoint: topo.b.underlayIp, remoteCidrs: [topo.b.podCidr], publicKey: kb.publicKey });
    await a.init();
    await b.init();
    await a.reconcile([pb()]);
    await b.reconcile([pa()]);
    expect(await pingUntil(topo.a.netns, topo.a.podIp, topo.b.podIp, 10_000)).toBe(true);
    // WireGuard has no make-before-break for a static key: from a rotation until the peer has the new public key,
    // the peer drops what it cannot authenticate. What must hold is that nothing is lost beyond those windows (the
    // new peer entry's persistent keepalive starts a handshake at once). Their length is the time this
    // process takes between two awaits: a few ms, but up to 1.35 s in a fresh-clone npm test (2026-12-06,
    // 27 lost where 5 were allowed) where realtime lab agents in the other worker starve it.
    let windowsMs = 0;
    const [sent, got] = await pingDuring(topo, async () => {
      ka = generateWireguardKeyPair();
      let t = performance.now();
      await a.rotateLocalKeys({ wireguardPrivateKey: ka.privateKey });
      await b.reconcile([pa()]);
      windowsMs += performance.now() - t;
      kb = generateWireguardKeyPair();
      t = performance.now();
      await b.rotateLocalKeys({ wireguardPrivateKey: kb.privateKey });
      await a.reconcile([pb()]);
      windowsMs += performance.now() - t;
    });
    expect(sent).toBeGreaterThan(20);
    // One ping every 50 ms; 5 more for the handshakes and for a packet in flight at each edge.
    expect(sent - got).toBeLessThanOrEqual(Math.ceil(windowsMs / 50) + 5);
    expect((await a.status()).peers[0]?.state).toBe('up');
    await a.remove();
    await b.remove();
  }, 60_000);

  describe.each(['psk', 'pubkey'] as const)('ipsec (%s)', (auth) => {
    it('rotates the keys while traffic flows', async () => {
      let psk = generateIpsecPsk();
      let ka = generateIpsecKeyPair();
      let kb = generateIpsecKeyPair();
      const keysOf = (k: typeof ka) => (auth === 'pubkey' ? { ipsecPrivateKeyPem: k.privateKeyPem, ipsecPublicKeyPem: k.publicKeyPem } : {});
      const a = new IpsecDriver(topo.a.config('ipsec', keysOf(ka)));
      const b = new IpsecDriver(topo.b.config('ipsec', keysOf(kb)));
      drivers.push(a, b);
      const cred = (k: typeof ka) => (auth === 'psk' ? { psk } : { ipsecPublicKeyPem: k.publicKeyPem });
      const pa = (): TunnelPeer => ({ id: 'gwa', cluster: 'c1', endpoint: topo.a.underlayIp, remoteCidrs: [topo.a.podCidr], ...cred(ka) });
      const pb = (): TunnelPeer => ({ id: 'gwb', cluster: 'c2', endpoint: topo.b.underlayIp, remoteCidrs: [topo.b.podCidr], ...cred(kb) });
      await a.init();
      await b.init();
      await a.reconcile([pb()]);
      await b.reconcile([pa()]);
      expect(await pingUntil(topo.a.netns, topo.a.podIp, topo.b.podIp, 15_000)).toBe(true);
      const before = (await a.status()).peers[0]?.detail;
      const [sent, got] = await pingDuring(topo, async () => {
        if (auth === 'psk') {
          psk = generateIpsecPsk();
          await a.reconcile([pb()]);
          await b.reconcile([pa()]);
        } else {
          ka = generateIpsecKeyPair();
          await a.rotateLocalKeys(keysOf(ka));
          await b.reconcile([pa()]);
          kb = generateIpsecKeyPair();
          await b.rotateLocalKeys(keysOf(kb));
          await a.reconcile([pb()]);
        }
        // The new credentials are really in use: a fresh IKE SA (new unique id) authenticated with them.
        const end = Date.now() + 10_000;
        while (Date.now() < end && ((await a.status()).peers[0]?.detail === before || (await a.status()).peers[0]?.state !== 'up')) {
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      const after = await a.status();
      expect(after.peers[0]?.state).toBe('up');
      expect(after.peers[0]?.detail).not.toBe(before);
      expect(sent).toBeGreaterThan(20);
      // Make-before-break: nothing should be lost. 2, not 0: a host starved by realtime tasks (npm test runs
      // labs beside this) may lose a reply to a late ESP packet. The old break-before-make lost 4-7 there.
      expect(sent - got).toBeLessThanOrEqual(2);
      await a.remove();
      await b.remove();
    }, 60_000);
  });
});
