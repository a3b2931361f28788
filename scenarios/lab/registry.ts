import { createTunnelRegistry, realTunnelFactories, type TunnelRegistry } from '../../tunnel/index.js';

/** The lab's composition root for tunnels: the real Linux drivers (kernel or userspace, chosen at init). */
export function realLabRegistry(): TunnelRegistry {
  return createTunnelRegistry(realTunnelFactories());
}
