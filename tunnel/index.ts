// Public face of tunnel/. Other folders import only this file, and it holds what they use (the recording fake
// is on the test face, testing/index.ts). Drivers are reached through realTunnelFactories() and the registry;
// WireguardDriver is here for its interface name (the scenarios runner records its UAPI socket).
export {
  TUNNEL_TYPES,
  type TunnelType,
  type TunnelPeer,
  type TunnelLocalKeys,
  type TunnelLocalConfig,
  type TunnelStatus,
  type TunnelDriver,
} from './types.js';
export { podMtu } from './mtu.js';
export { createTunnelRegistry, type TunnelRegistry } from './registry.js';
export { validatePeers, isWireguardKey } from './peer-validation.js';
export { chooseImplementations, TUNNEL_COMMANDS, type HostFacts, type TunnelCapabilities } from './capabilities.js';
export { detectCapabilities } from './detect-capabilities.js';
export { generateWireguardKeyPair, wireguardPublicKey } from './wireguard-keys.js';
export { generateIpsecKeyPair, generateIpsecPsk } from './ipsec-keys.js';
export { realTunnelFactories } from './real-drivers.js';
export { WireguardDriver } from './wireguard-driver.js';
