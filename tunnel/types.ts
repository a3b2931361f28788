/** The four encapsulations Strait can put between gateways. */
export type TunnelType = 'vxlan' | 'geneve' | 'wireguard' | 'ipsec';

export const TUNNEL_TYPES: readonly TunnelType[] = ['vxlan', 'geneve', 'wireguard', 'ipsec'];

/** Which concrete datapath a driver uses on this host (chosen at `init()` from the detected capabilities). */
export type TunnelImplementation =
  | 'kernel-vxlan'
  | 'kernel-geneve'
  | 'ovs-userspace-geneve'
  | 'kernel-wireguard'
  | 'wireguard-go'
  | 'strongswan-kernel'
  | 'strongswan-libipsec'
  | 'fake';

/**
 * One remote gateway this gateway keeps a tunnel to. `id` is the identity of the peer inside the set
 * (stable across reconciles; a changed field under the same id is an update, a new id is an add).
 */
export interface TunnelPeer {
  /** Unique within a desired set; letters, digits, `-`, `_`, `.` (used in names and IKE ids). */
  readonly id: string;
  /** Cluster the peer gateway belongs to (informational; shown in status). */
  readonly cluster: string;
  /** The peer gateway's underlay IPv4 address (tunnel endpoint). */
  readonly endpoint: string;
  /** CIDRs reachable through this peer (its pods, services, gateway probe address). Routed into the tunnel. */
  readonly remoteCidrs: readonly string[];
  /** VXLAN/Geneve network identifier; defaults to the local config `vni` (100). */
  readonly vni?: number;
  /** WireGuard: the peer's public key (base64, 32 bytes). Required for wireguard. */
  readonly publicKey?: string;
  /** IPsec: pre-shared key shared with this peer (PSK auth). WireGuard: optional preshared key (base64, 32 bytes). */
  readonly psk?: string;
  /** IPsec: the peer's public key as SPKI PEM (raw public-key auth, used when `psk` is absent). */
  readonly ipsecPublicKeyPem?: string;
  /** UDP port of the peer's tunnel endpoint when not the type's default (WireGuard listen port). */
  readonly port?: number;
}

/** Local key material. Only the fields of the driver's type matter. */
export interface TunnelLocalKeys {
  /** WireGuard private key (base64, 32 bytes), e.g. from `generateWireguardKeyPair()`. */
  readonly wireguardPrivateKey?: string;
  /** IPsec private key (PKCS#8 PEM, EC P-256 or Ed25519) for raw public-key auth. */
  readonly ipsecPrivateKeyPem?: string;
  /** IPsec own public key (SPKI PEM) matching `ipsecPrivateKeyPem`. */
  readonly ipsecPublicKeyPem?: string;
}

/** Everything a driver needs about the gateway it runs on. Constructors only store it; `init()` acts on it. */
export interface TunnelLocalConfig {
  /** Run id (see host/newRunId): every link, daemon and file carries it. */
  readonly runId: string;
  /** Gateway network namespace; undefined means the current (root) namespace. */
  readonly netns?: string;
  /** Local identity: IKE id, part of interface names. Letters, digits, `-`, `_`, `.`. */
  readonly gatewayId: string;
  /** This gateway's underlay IPv4 address (must already be configured on `underlayDev`). */
  readonly localUnderlayIp: string;
  /** The underlay interface holding `localUnderlayIp` (OVS userspace takes it over into its br-phy). */
  readonly underlayDev: string;
  /** CIDRs of this side (its pods); IPsec traffic selectors. */
  readonly localCidrs: readonly string[];
  /** Directory for this driver's files (configs, sockets, pid files, logs); created by init, removed by remove. */
  readonly stateDir: string;
  /** MTU of the underlay path (default 1500). Tunnel MTU is derived from it (see `tunnelMtu`). */
  readonly underlayMtu?: number;
  /** Default VNI for VXLAN/Geneve (default 100). */
  readonly vni?: number;
  /** WireGuard listen port (default 51820). */
  readonly listenPort?: number;
  readonly keys?: TunnelLocalKeys;
  /** Force an implementation instead of the best one detected (e.g. `ovs-userspace-geneve`). */
  readonly implementation?: TunnelImplementation;
}

export type PeerState = 'up' | 'connecting' | 'down' | 'configured';

export interface TunnelPeerStatus {
  readonly id: string;
  readonly cluster: string;
  readonly endpoint: string;
  readonly remoteCidrs: readonly string[];
  /**
   * `configured`: stateless encapsulation installed (VXLAN/Geneve have no handshake); `up`: handshake/SA
   * established; `connecting`: negotiating; `down`: configured but no session.
   */
  readonly state: PeerState;
  /** Local device carrying this peer's traffic. */
  readonly device?: string;
  readonly rxBytes?: number;
  readonly txBytes?: number;
  /** WireGuard: unix ms of the latest handshake (0 = never). */
  readonly lastHandshakeMs?: number;
  readonly detail?: string;
}

export interface TunnelStatus {
  readonly type: TunnelType;
  readonly implementation: TunnelImplementation | 'none';
  readonly initialized: boolean;
  /** MTU set on the tunnel device(s). Pods behind the gateway should use `podMtu(type, underlayMtu)`. */
  readonly mtu: number;
  /** Devices this driver created (in its netns). */
  readonly devices: readonly string[];
  /** Daemons this driver started, by pid. */
  readonly pids: readonly number[];
  readonly peers: readonly TunnelPeerStatus[];
}

/**
 * Intent-level interface over one gateway's tunnels of one type.
 *
 * - Constructors do no I/O. `init()` prepares the datapath (devices, daemons); calling it twice is fine.
 * - `reconcile(desired)` makes the tunnel set exactly `desired`: adds new peers, updates changed ones and
 *   removes the rest, without disturbing unchanged peers (their devices, routes and sessions stay). It is
 *   idempotent: the same set twice changes nothing. Invalid input throws a StraitError and changes nothing.
 * - `status()` reports what is installed (read from the datapath, not from memory).
 * - `remove()` removes everything the driver created (devices, routes, daemons, sockets, files); idempotent.
 */
export interface TunnelDriver {
  readonly type: TunnelType;
  init(): Promise<void>;
  reconcile(desired: readonly TunnelPeer[]): Promise<void>;
  status(): Promise<TunnelStatus>;
  remove(): Promise<void>;
  /**
   * Replaces the local key material (WireGuard private key, IPsec private key). Peers must be reconciled with
   * the matching new public key. A no-op for types without keys. Sessions re-establish without tearing down
   * devices or routes.
   */
  rotateLocalKeys(keys: TunnelLocalKeys): Promise<void>;
}

export type TunnelDriverFactory = (config: TunnelLocalConfig) => TunnelDriver;
