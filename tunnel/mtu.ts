import type { TunnelType } from './types.js';

/**
 * Encapsulation overhead in bytes on an IPv4 underlay, per type (outer headers the tunnel adds):
 * - vxlan: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 = 50.
 * - geneve: same as VXLAN without options = 50; we reserve 8 more for options OVS may add = 58.
 * - wireguard: outer IPv4 20 + UDP 8 + WireGuard data header 16 + Poly1305 tag 16 = 60; wg-quick uses 80 to
 *   cover an IPv6 underlay, we do the same so one MTU works on both (1420 at 1500).
 * - ipsec: ESP in UDP/4500 (we always encapsulate): IPv4 20 + UDP 8 + ESP 8 + IV 16 (CBC) + pad ≤ 15 + 2 +
 *   ICV 16 = 85; and strongSwan's kernel-libipsec reads at most 1400 bytes from its TUN device (measured:
 *   DF pings of 1400 bytes pass, 1408 vanish), so 100 keeps one MTU for both datapaths (1400 at 1500).
 */
export const TUNNEL_OVERHEAD: Readonly<Record<TunnelType, number>> = {
  vxlan: 50,
  geneve: 58,
  wireguard: 80,
  ipsec: 100,
};

export const MIN_MTU = 576;

/** MTU for the tunnel device given the underlay MTU. Throws RangeError for an underlay too small to carry IPv4. */
export function tunnelMtu(type: TunnelType, underlayMtu = 1500): number {
  if (!Number.isInteger(underlayMtu) || underlayMtu < MIN_MTU + TUNNEL_OVERHEAD[type] || underlayMtu > 65535) {
    throw new RangeError(`underlay MTU ${underlayMtu} cannot carry a ${type} tunnel (min ${MIN_MTU + TUNNEL_OVERHEAD[type]})`);
  }
  return underlayMtu - TUNNEL_OVERHEAD[type];
}

/**
 * MTU pods behind a gateway should use so their packets fit into the tunnel without fragmentation. The
 * OVS userspace datapath neither fragments nor sends ICMP "fragmentation needed", so pods must never rely on
 * PMTU discovery there: pod MTU = tunnel MTU for every type (kernel paths would cope, but one rule is simpler).
 */
export function podMtu(type: TunnelType, underlayMtu = 1500): number {
  return tunnelMtu(type, underlayMtu);
}

/** Smallest pod MTU over several tunnel types (a pod may reach clusters over different types). */
export function podMtuForTypes(types: readonly TunnelType[], underlayMtu = 1500): number {
  if (types.length === 0) return underlayMtu;
  return Math.min(...types.map((t) => podMtu(t, underlayMtu)));
}
