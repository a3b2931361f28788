import type { TunnelImplementation, TunnelType } from './types.js';

/** Raw facts about this host, gathered by `detectCapabilities()` (I/O) and judged by `chooseImplementations()` (pure). */
export interface HostFacts {
  readonly kernelRelease: string;
  readonly root: boolean;
  /** Link types the kernel accepted in a scratch namespace (`ip link add … type X`). */
  readonly kernel: {
    readonly vxlan: boolean;
    readonly geneve: boolean;
    readonly wireguard: boolean;
    /** An ESP state with AES-GCM could be installed (kernel IPsec datapath). */
    readonly esp: boolean;
    /** /dev/net/tun exists (wireguard-go, libipsec, OVS userspace). */
    readonly tun: boolean;
  };
  /** Executables found (absolute path) or undefined. */
  readonly commands: Readonly<Record<string, string | undefined>>;
  /** strongSwan kernel-libipsec plugin present. */
  readonly libipsecPlugin: boolean;
}

export interface ImplementationChoice {
  readonly type: TunnelType;
  readonly implementation: TunnelImplementation | 'none';
  readonly available: boolean;
  readonly reason: string;
  /** What to install or enable when unavailable (or to get the faster path). */
  readonly fix?: string;
}

export interface TunnelCapabilities extends HostFacts {
  readonly implementations: Readonly<Record<TunnelType, ImplementationChoice>>;
}

/** Commands the drivers and benchmarks use, with the Debian package providing each. */
export const TUNNEL_COMMANDS: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  'ovs-vswitchd': 'openvswitch-switch',
  'ovsdb-server': 'openvswitch-switch',
  'ovsdb-tool': 'openvswitch-switch',
  'ovs-vsctl': 'openvswitch-switch',
  'ovs-ofctl': 'openvswitch-switch',
  'ovs-appctl': 'openvswitch-switch',
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  '/usr/sbin/charon-systemd': 'strongswan-charon (charon-systemd)',
  ethtool: 'ethtool',
  iperf3: 'iperf3',
  tcpdump: 'tcpdump',
};

function has(f: HostFacts, cmd: string): boolean {
  return f.commands[cmd] !== undefined;
}

/** Picks the implementation each tunnel type will use. Pure: table-tested. */
export function chooseImplementations(f: HostFacts): Record<TunnelType, ImplementationChoice> {
  const ovsOk = ['ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovs-vsctl', 'ovs-ofctl'].every((c) => has(f, c));
  const vxlan: ImplementationChoice = f.kernel.vxlan
    ? { type: 'vxlan', implementation: 'kernel-vxlan', available: true, reason: 'kernel vxlan link type' }
    : { type: 'vxlan', implementation: 'none', available: false, reason: 'kernel has no vxlan link type', fix: 'use a kernel with CONFIG_VXLAN' };
  const geneve: ImplementationChoice = f.kernel.geneve
    ? { type: 'geneve', implementation: 'kernel-geneve', available: true, reason: 'kernel geneve link type' }
    : ovsOk && f.kernel.tun
      ? {
          type: 'geneve',
          implementation: 'ovs-userspace-geneve',
          available: true,
          reason: 'no kernel geneve; Open vSwitch userspace datapath (datapath_type=netdev)',
          fix: 'a kernel with CONFIG_GENEVE is about 10x faster',
        }
      : {
          type: 'geneve',
          implementation: 'none',
          available: false,
          reason: 'no kernel geneve and no Open vSwitch userspace tools',
          fix: 'apt-get install openvswitch-switch (or a kernel with CONFIG_GENEVE)',
        };
  const wireguard: ImplementationChoice = f.kernel.wireguard && has(f, 'wg')
    ? { type: 'wireguard', implementation: 'kernel-wireguard', available: true, reason: 'kernel wireguard link type' }
    : has(f, 'wireguard-go') && has(f, 'wg') && f.kernel.tun
      ? {
          type: 'wireguard',
          implementation: 'wireguard-go',
          available: true,
          reason: 'no kernel wireguard; userspace wireguard-go over /dev/net/tun',
          fix: f.kernel.wireguard ? undefined : 'a kernel with CONFIG_WIREGUARD is several times faster',
        }
      : {
          type: 'wireguard',
          implementation: 'none',
          available: false,
          reason: !has(f, 'wg') ? 'wg (wireguard-tools) missing' : 'no kernel wireguard and no wireguard-go',
          fix: 'apt-get install wireguard-tools wireguard-go',
        };
  const charon = has(f, '/usr/sbin/charon-systemd');
  const ipsec: ImplementationChoice = !charon
    ? { type: 'ipsec', implementation: 'none', available: false, reason: 'strongSwan charon-systemd missing', fix: 'apt-get install charon-systemd strongswan-charon' }
    : f.kernel.esp
      ? { type: 'ipsec', implementation: 'strongswan-kernel', available: true, reason: 'strongSwan with kernel ESP (xfrm)' }
      : f.libipsecPlugin && f.kernel.tun
        ? {
            type: 'ipsec',
            implementation: 'strongswan-libipsec',
            available: true,
            reason: 'no kernel ESP; strongSwan kernel-libipsec (userspace ESP in UDP/4500)',
            fix: 'a kernel with CONFIG_INET_ESP and CONFIG_XFRM is faster',
          }
        : {
            type: 'ipsec',
            implementation: 'none',
            available: false,
            reason: 'no kernel ESP and no kernel-libipsec plugin',
            fix: 'apt-get install libstrongswan-extra-plugins (kernel-libipsec) or use a kernel with ESP',
          };
  return { vxlan, geneve, wireguard, ipsec };
}
