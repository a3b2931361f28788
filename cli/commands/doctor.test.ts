import { describe, expect, it } from '@jest/globals';
import { chooseImplementations, type HostFacts } from '../../tunnel/index.js';
import { formatDoctorReport } from './doctor-report.js';

describe('strait doctor report', () => {
  it('names the implementation per type and the fix for what is missing', () => {
    const facts: HostFacts = {
      kernelRelease: '6.1.0',
      root: true,
      kernel: { vxlan: true, geneve: false, wireguard: false, esp: false, tun: true },
      commands: { wg: '/usr/bin/wg', 'wireguard-go': '/usr/bin/wireguard-go' },
      libipsecPlugin: false,
    };
    const text = formatDoctorReport({ ...facts, implementations: chooseImplementations(facts) });
    expect(text).toContain('vxlan      kernel-vxlan');
    expect(text).toContain('wireguard  wireguard-go');
    expect(text).toMatch(/geneve +UNAVAILABLE/);
    expect(text).toContain('fix: apt-get install openvswitch-switch');
    expect(text).toContain('missing: apt-get install strongswan-charon');
    expect(text).toContain('(needs CONFIG_GENEVE)');
  });
});
