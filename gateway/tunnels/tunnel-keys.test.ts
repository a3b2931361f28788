import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWireguardKeyPair, isWireguardKey } from '../../tunnel/index.js';
import { loadTunnelKeys } from './tunnel-keys.js';

describe('loadTunnelKeys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-tunnel-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a WireGuard key on first start (0600) and keeps it across restarts', () => {
    const a = loadTunnelKeys('wireguard', join(dir, 'gw1'));
    expect(isWireguardKey(a.local.wireguardPrivateKey ?? '')).toBe(true);
    expect(isWireguardKey(a.publicKeys.wireguard ?? '')).toBe(true);
    expect(statSync(a.file ?? '').mode & 0o777).toBe(0o600);
    const b = loadTunnelKeys('wireguard', join(dir, 'gw1'));
    expect(b.publicKeys.wireguard).toBe(a.publicKeys.wireguard);
    expect(loadTunnelKeys('wireguard', join(dir, 'gw2')).publicKeys.wireguard).not.toBe(a.publicKeys.wireguard);
  });

  it('uses a given key file, and refuses one that is not a key', () => {
    const kp = generateWireguardKeyPair();
    const f = join(dir, 'given.key');
    writeFileSync(f, `${kp.privateKey}\n`);
    expect(loadTunnelKeys('wireguard', join(dir, 'unused'), f).publicKeys.wireguard).toBe(kp.publicKey);
    writeFileSync(f, 'not a key\n');
    expect(() => loadTunnelKeys('wireguard', join(dir, 'unused'), f)).toThrow(expect.objectContaining({ code: 'GATEWAY_INVALID_CONFIG' }));
    expect(() => loadTunnelKeys('wireguard', join(dir, 'unused'), join(dir, 'missing.key'))).toThrow(expect.objectContaining({ code: 'GATEWAY_INVALID_CONFIG' }));
  });

  it('IPsec: a PKCS#8 key pair with its SPKI public key published; VXLAN/Geneve have none', () => {
    const k = loadTunnelKeys('ipsec', join(dir, 'gw3'));
    expect(k.local.ipsecPrivateKeyPem).toContain('PRIVATE KEY');
    expect(k.publicKeys.ipsec).toContain('PUBLIC KEY');
    expect(loadTunnelKeys('ipsec', join(dir, 'gw3')).publicKeys.ipsec).toBe(k.publicKeys.ipsec);
    expect(loadTunnelKeys('vxlan', join(dir, 'gw4'))).toEqual({ local: {}, publicKeys: {} });
  });
});
