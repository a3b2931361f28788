import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chooseImplementations, generateWireguardKeyPair, podMtu, wireguardPublicKey, type HostFacts } from './index.js';
import { tunnelMtu } from './mtu.js';

const allCommands = Object.fromEntries(
  ['ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovs-vsctl', 'ovs-ofctl', 'wireguard-go', 'wg', '/usr/sbin/charon-systemd'].map((c) => [c, `/bin/${c}`]),
);
const base: HostFacts = {
  kernelRelease: 'x',
  root: true,
  kernel: { vxlan: true, geneve: false, wireguard: false, esp: false, tun: true },
  commands: allCommands,
  libipsecPlugin: true,
};

describe('chooseImplementations', () => {
  it.each([
    ['this machine: userspace fallbacks', base, { vxlan: 'kernel-vxlan', geneve: 'ovs-userspace-geneve', wireguard: 'wireguard-go', ipsec: 'strongswan-libipsec' }],
    ['full kernel', { ...base, kernel: { vxlan: true, geneve: true, wireguard: true, esp: true, tun: true } },
      { vxlan: 'kernel-vxlan', geneve: 'kernel-geneve', wireguard: 'kernel-wireguard', ipsec: 'strongswan-kernel' }],
    ['nothing installed', { ...base, commands: {}, libipsecPlugin: false }, { vxlan: 'kernel-vxlan', geneve: 'none', wireguard: 'none', ipsec: 'none' }],
    ['no tun', { ...base, kernel: { ...base.kernel, tun: false } }, { vxlan: 'kernel-vxlan', geneve: 'none', wireguard: 'none', ipsec: 'none' }],
  ] as const)('%s', (_name, facts, want) => {
    const got = chooseImplementations(facts as HostFacts);
    expect(Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.implementation]))).toEqual(want);
    for (const v of Object.values(got)) if (!v.available) expect(v.fix).toBeTruthy();
  });
});

describe('MTU', () => {
  it.each([
    ['vxlan', 1500, 1450],
    ['geneve', 1500, 1442],
    ['wireguard', 1500, 1420],
    ['ipsec', 1500, 1400],
    ['vxlan', 9000, 8950],
  ] as const)('%s over %d → %d', (type, ul, want) => {
    expect(tunnelMtu(type, ul)).toBe(want);
    expect(podMtu(type, ul)).toBe(want);
  });
  it('refuses an underlay too small', () => {
    expect(() => tunnelMtu('ipsec', 600)).toThrow(RangeError);
  });
});

describe('WireGuard keys from node:crypto', () => {
  const wg = existsSync('/usr/bin/wg') ? it : it.skip;
  wg('match `wg pubkey` both ways', () => {
    for (let i = 0; i < 5; i++) {
      const k = generateWireguardKeyPair();
      expect(execFileSync('wg', ['pubkey'], { input: `${k.privateKey}\n` }).toString().trim()).toBe(k.publicKey);
      const priv = execFileSync('wg', ['genkey']).toString().trim();
      const pub = execFileSync('wg', ['pubkey'], { input: `${priv}\n` }).toString().trim();
      expect(wireguardPublicKey(priv)).toBe(pub);
    }
  });
});
