import { describe, expect, it } from '@jest/globals';
import { tunnelConformance } from './conformance-suite.js';
import { createTunnelRegistry, TUNNEL_TYPES, type TunnelLocalConfig, type TunnelPeer } from './index.js';
import { fakeTunnelFactories, RecordingTunnelDriver } from './fake-driver.js';

const KEY_A = 'QHvNHv/a14cQ+VNmtZJa1dOEV6KzCE1Ejpdd9kCNWX8=';
const KEY_B = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

function config(name: string): TunnelLocalConfig {
  return {
    runId: 'fake01',
    gatewayId: name,
    localUnderlayIp: name === 'gwa' ? '192.168.77.1' : '192.168.77.2',
    underlayDev: 'ul0',
    localCidrs: [name === 'gwa' ? '10.10.1.0/24' : '10.20.1.0/24'],
    stateDir: `/tmp/strait-fake/${name}`,
    keys: { wireguardPrivateKey: name === 'gwa' ? KEY_A : KEY_B },
  };
}

for (const type of TUNNEL_TYPES) {
  describe(`recording fake (${type}) conformance`, () => {
    tunnelConformance(async () => {
      const registry = createTunnelRegistry(fakeTunnelFactories());
      const a = registry.create(type, config('gwa'));
      const b = registry.create(type, config('gwb'));
      const peer = (id: string, endpoint: string, cidr: string, key: string): TunnelPeer => ({
        id,
        cluster: id,
        endpoint,
        remoteCidrs: [cidr],
        ...(type === 'wireguard' ? { publicKey: key } : {}),
        ...(type === 'ipsec' ? { psk: 'lab-psk-0123456789abcdef' } : {}),
      });
      return {
        type,
        a,
        b,
        peerB: () => peer('gwb', '192.168.77.2', '10.20.1.0/24', KEY_B),
        peerA: () => peer('gwa', '192.168.77.1', '10.10.1.0/24', KEY_A),
        phantom: () => peer('gwc', '192.168.77.3', '10.30.1.0/24', KEY_A),
        leftovers: async () => [],
        teardown: async () => {},
      };
    });
  });
}

describe('recording fake', () => {
  it('records only real changes', async () => {
    const d = new RecordingTunnelDriver('vxlan', config('gwa'));
    await d.init();
    const p: TunnelPeer = { id: 'gwb', cluster: 'c2', endpoint: '192.168.77.2', remoteCidrs: ['10.20.1.0/24'] };
    await d.reconcile([p]);
    await d.reconcile([p]);
    await d.reconcile([{ ...p, remoteCidrs: ['10.20.0.0/16'] }]);
    await d.reconcile([]);
    expect(d.calls.map((c) => c.op)).toEqual(['init', 'add', 'update', 'delete']);
  });

  it('registry: unknown type is a catalogued error', () => {
    const r = createTunnelRegistry({ vxlan: fakeTunnelFactories().vxlan });
    expect(r.types()).toEqual(['vxlan']);
    expect(() => r.create('gre', config('gwa'))).toThrow(expect.objectContaining({ code: 'TUNNEL_UNKNOWN_TYPE' }) as unknown as Error);
  });
});
