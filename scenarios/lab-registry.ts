import { createTunnelRegistry, type TunnelRegistry } from '../tunnel/index.js';
// TEMP until tunnel/index.ts exports it
import { realTunnelFactories } from '../tunnel/real-drivers.js';

/** The lab's composition root for tunnels: the real Linux drivers (kernel or userspace, chosen at init). */
export function realLabRegistry(): TunnelRegistry {
  return createTunnelRegistry(realTunnelFactories());
}
