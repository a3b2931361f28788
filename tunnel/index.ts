// Public face of tunnel/. Other folders import only this file.
export {
  TUNNEL_TYPES,
  type TunnelType,
  type TunnelImplementation,
  type TunnelPeer,
  type TunnelLocalKeys,
  type TunnelLocalConfig,
  type PeerState,
  type TunnelPeerStatus,
  type TunnelStatus,
  type TunnelDriver,
  type TunnelDriverFactory,
} from './types.js';
export { TUNNEL_OVERHEAD, MIN_MTU, tunnelMtu, podMtu, podMtuForTypes } from './mtu.js';
export { createTunnelRegistry, type TunnelRegistry } from './registry.js';
export { RecordingTunnelDriver, fakeTunnelFactories, type FakeTunnelCall } from './fake-driver.js';
export { validatePeers, validateLocalConfig, isWireguardKey } from './peer-validation.js';
export {
  chooseImplementations,
  TUNNEL_COMMANDS,
  type HostFacts,
  type ImplementationChoice,
  type TunnelCapabilities,
} from './capabilities.js';
export { detectCapabilities } from './detect-capabilities.js';
export { generateWireguardKeyPair, wireguardPublicKey, generateWireguardPsk, type WireguardKeyPair } from './wireguard-keys.js';
export { generateIpsecKeyPair, generateIpsecPsk, type IpsecKeyPair } from './ipsec-keys.js';
export { realTunnelFactories } from './real-drivers.js';
export { VxlanDriver, VXLAN_PORT } from './vxlan-driver.js';
export { GeneveDriver, GENEVE_PORT } from './geneve-driver.js';
export { WireguardDriver, WIREGUARD_PORT } from './wireguard-driver.js';
export { IpsecDriver } from './ipsec-driver.js';
export { ViciClient } from './vici-client.js';
export { encodeMessage as encodeViciMessage, decodeMessage as decodeViciMessage, type ViciMessage, type ViciValue } from './vici-codec.js';
