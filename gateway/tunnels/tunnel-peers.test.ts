import { describe, expect, it } from '@jest/globals';
import { generateWireguardKeyPair, validatePeers } from '../../tunnel/index.js';
import { planTunnelPeers, remoteActive, type BrokerClusterView, type BrokerGatewayView } from './tunnel-peers.js';

const NOW = Date.parse('2026-11-22T15:00:00Z');
const at = (agoMs: number): string => new Date(NOW - agoMs).toISOString();
const key = (): string => generateWireguardKeyPair().publicKey;

function gw(cluster: string, name: string, endpoint: string, priority: number, extra: Partial<BrokerGatewayView> = {}): BrokerGatewayView {
  return { cluster, name, endpoints: [endpoint], tunnelTypes: ['wireguard'], publicKeys: { wireguard: key() }, priority, health: 'Healthy', updatedAt: at(500), ...extra };
}

const clusters: BrokerClusterView[] = [
  { id: 'east', podCIDRs: ['10.10.0.0/16'], serviceCIDRs: [] },
  { id: 'west', podCIDRs: ['10.20.0.0/16', 'fd00:20::/48'], serviceCIDRs: ['10.96.20.0/24'] },
  { id: 'north', podCIDRs: ['10.30.0.0/16'], serviceCIDRs: [] },
];

describe('remoteActive', () => {
  it('picks the highest-priority healthy, fresh candidate (ties by name)', () => {
    const a = gw('west', 'w1', '192.168.2.11', 100);
    const b = gw('west', 'w2', '192.168.2.12', 50);
    expect(remoteActive([b, a], NOW, 8000)?.name).toBe('w1');
    expect(remoteActive([{ ...a, health: 'Unhealthy' }, b], NOW, 8000)?.name).toBe('w2');
    expect(remoteActive([{ ...a, updatedAt: at(9000) }, b], NOW, 8000)?.name).toBe('w2');
    expect(remoteActive([{ ...a, priority: 50, name: 'wz' }, b], NOW, 8000)?.name).toBe('w2');
  });
  it('prefers Healthy over a higher-priority Unknown; none qualifies when all are stale or unhealthy', () => {
    const a = gw('west', 'w1', '192.168.2.11', 100, { health: 'Unknown' });
    const b = gw('west', 'w2', '192.168.2.12', 50);
    expect(remoteActive([a, b], NOW, 8000)?.name).toBe('w2');
    expect(remoteActive([a], NOW, 8000)?.name).toBe('w1');
    expect(remoteActive([{ ...b, health: 'Unhealthy' }, { ...a, updatedAt: at(60_000) }], NOW, 8000)).toBeUndefined();
  });
});

describe('planTunnelPeers', () => {
  const own = [gw('east', 'e1', '192.168.1.11', 100), gw('east', 'e2', '192.168.1.12', 50)];
  const west = [gw('west', 'w1', '192.168.2.11', 100), gw('west', 'w2', '192.168.2.12', 50)];

  it('peers with every candidate of every other cluster; the active one carries the cluster CIDRs (IPv4 only)', () => {
    const plan = planTunnelPeers({ cluster: 'east', type: 'wireguard', gateways: [...own, ...west], clusters, now: NOW, staleMs: 8000 });
    expect(plan.peers.map((p) => p.id)).toEqual(['west.w1', 'west.w2']);
    expect(plan.peers[0]).toMatchObject({ cluster: 'west', endpoint: '192.168.2.11', remoteCidrs: ['10.20.0.0/16', '10.96.20.0/24'], publicKey: west[0]!.publicKeys.wireguard });
    expect(plan.peers[1]!.remoteCidrs).toHaveLength(1);
    expect(plan.peers[1]!.remoteCidrs[0]).toMatch(/^169\.254\.\d+\.\d+\/32$/);
    expect(plan.active).toEqual({ west: 'w1' });
    expect(() => validatePeers('wireguard', plan.peers)).not.toThrow();
  });

  it('moves the CIDRs to the standby when the active goes stale, and lists the new active first', () => {
    const stale = [{ ...west[0]!, updatedAt: at(20_000) }, west[1]!];
    const plan = planTunnelPeers({ cluster: 'east', type: 'wireguard', gateways: [...own, ...stale], clusters, now: NOW, staleMs: 8000 });
    expect(plan.active).toEqual({ west: 'w2' });
    expect(plan.peers.map((p) => p.id)).toEqual(['west.w2', 'west.w1']);
    expect(plan.peers[0]!.remoteCidrs).toEqual(['10.20.0.0/16', '10.96.20.0/24']);
    // The stale gateway keeps its (placeholder) peer: when it comes back, its session is still configured.
    expect(plan.peers[1]!.remoteCidrs[0]).toMatch(/^169\.254\./);
  });

  it('keeps several remote clusters apart and gives standbys distinct placeholders', () => {
    const north = [gw('north', 'n1', '192.168.3.11', 10), gw('north', 'n2', '192.168.3.12', 20)];
    const plan = planTunnelPeers({ cluster: 'east', type: 'wireguard', gateways: [...own, ...west, ...north], clusters, now: NOW, staleMs: 8000 });
    expect(plan.active).toEqual({ west: 'w1', north: 'n2' });
    expect(plan.peers).toHaveLength(4);
    const placeholders = plan.peers.flatMap((p) => p.remoteCidrs).filter((c) => c.startsWith('169.254.'));
    expect(new Set(placeholders).size).toBe(2);
    expect(() => validatePeers('wireguard', plan.peers)).not.toThrow();
  });

  it('skips gateways it cannot use and says why', () => {
    const gws = [
      gw('west', 'w1', '192.168.2.11', 100, { tunnelTypes: ['vxlan'] }),
      gw('west', 'w2', '192.168.2.12', 50, { publicKeys: {} }),
      gw('west', 'w3', 'fd00::3', 40),
      gw('west', 'w4', '192.168.2.14', 30),
      gw('west', 'w5', '192.168.2.14', 20),
      gw('south', 's1', '192.168.4.11', 10),
    ];
    const plan = planTunnelPeers({ cluster: 'east', type: 'wireguard', gateways: gws, clusters, now: NOW, staleMs: 8000 });
    expect(plan.peers.map((p) => p.id)).toEqual(['west.w4']);
    expect(plan.skipped.map((s) => s.gateway)).toEqual(['south/s1', 'west/w1', 'west/w2', 'west/w3', 'west/w5']);
    expect(plan.active).toEqual({ west: 'w4' });
  });

  it('vxlan peers need no keys; a cluster with no usable gateway has no route', () => {
    const vx = west.map((g) => ({ ...g, tunnelTypes: ['vxlan'], publicKeys: {}, health: 'Unhealthy' }));
    const plan = planTunnelPeers({ cluster: 'east', type: 'vxlan', gateways: vx, clusters, now: NOW, staleMs: 8000 });
    expect(plan.active).toEqual({ west: null });
    expect(plan.peers.every((p) => p.remoteCidrs[0]?.startsWith('169.254.') && p.publicKey === undefined)).toBe(true);
  });
});
