import type { TunnelDriverFactory, TunnelType } from './types.js';
import { GeneveDriver } from './geneve-driver.js';
import { IpsecDriver } from './ipsec-driver.js';
import { VxlanDriver } from './vxlan-driver.js';
import { WireguardDriver } from './wireguard-driver.js';

/**
 * Factories for the real Linux drivers, for `createTunnelRegistry(realTunnelFactories())` in a composition
 * root. Building them does no I/O; each driver picks its implementation (kernel or userspace) in `init()`.
 */
export function realTunnelFactories(): Partial<Record<TunnelType, TunnelDriverFactory>> {
  return {
    vxlan: (c) => new VxlanDriver(c),
    geneve: (c) => new GeneveDriver(c),
    wireguard: (c) => new WireguardDriver(c),
    ipsec: (c) => new IpsecDriver(c),
  };
}
