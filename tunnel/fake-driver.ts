import { StraitError } from '../api/index.js';
import { tunnelMtu } from './mtu.js';
import { validateLocalConfig, validatePeers } from './peer-validation.js';
import type { TunnelDriver, TunnelLocalConfig, TunnelLocalKeys, TunnelPeer, TunnelStatus, TunnelType } from './types.js';

/** One datapath-level change the fake would have made; tests assert on these. */
export type FakeTunnelCall =
  | { op: 'init' }
  | { op: 'add'; peer: TunnelPeer }
  | { op: 'update'; peer: TunnelPeer; previous: TunnelPeer }
  | { op: 'delete'; peerId: string }
  | { op: 'rotate-keys' }
  | { op: 'remove' };

/**
 * Recording fake: same contract as the real drivers (validation, idempotency, add/update/remove) with the
 * datapath replaced by an in-memory table and a call log. It runs through the same conformance suite.
 */
export class RecordingTunnelDriver implements TunnelDriver {
  readonly calls: FakeTunnelCall[] = [];
  private peers = new Map<string, TunnelPeer>();
  private initialized = false;

  constructor(
    readonly type: TunnelType,
    readonly config: TunnelLocalConfig,
  ) {}

  async init(): Promise<void> {
    validateLocalConfig(this.type, this.config);
    if (this.initialized) return;
    this.initialized = true;
    this.calls.push({ op: 'init' });
  }

  async reconcile(desired: readonly TunnelPeer[]): Promise<void> {
    if (!this.initialized) throw new StraitError('TUNNEL_NOT_INITIALIZED', `${this.type} driver: call init() before reconcile()`);
    validatePeers(this.type, desired);
    const want = new Map(desired.map((p) => [p.id, p]));
    for (const id of [...this.peers.keys()]) {
      if (!want.has(id)) {
        this.peers.delete(id);
        this.calls.push({ op: 'delete', peerId: id });
      }
    }
    for (const p of desired) {
      const prev = this.peers.get(p.id);
      if (!prev) this.calls.push({ op: 'add', peer: p });
      else if (JSON.stringify(prev) !== JSON.stringify(p)) this.calls.push({ op: 'update', peer: p, previous: prev });
      else continue;
      this.peers.set(p.id, p);
    }
  }

  async status(): Promise<TunnelStatus> {
    return {
      type: this.type,
      implementation: this.initialized ? 'fake' : 'none',
      initialized: this.initialized,
      mtu: tunnelMtu(this.type, this.config.underlayMtu ?? 1500),
      devices: this.initialized ? [`fake-${this.type}`] : [],
      pids: [],
      peers: [...this.peers.values()].map((p) => ({
        id: p.id,
        cluster: p.cluster,
        endpoint: p.endpoint,
        remoteCidrs: [...p.remoteCidrs],
        state: this.type === 'vxlan' || this.type === 'geneve' ? 'configured' : 'up',
        device: `fake-${this.type}`,
      })),
    };
  }

  async rotateLocalKeys(_keys: TunnelLocalKeys): Promise<void> {
    if (!this.initialized) throw new StraitError('TUNNEL_NOT_INITIALIZED', `${this.type} driver: call init() first`);
    this.calls.push({ op: 'rotate-keys' });
  }

  async remove(): Promise<void> {
    if (!this.initialized && this.peers.size === 0) return;
    this.peers.clear();
    this.initialized = false;
    this.calls.push({ op: 'remove' });
  }
}

/** Factories producing recording fakes for every type, for `createTunnelRegistry`. */
export function fakeTunnelFactories(): Record<TunnelType, (c: TunnelLocalConfig) => RecordingTunnelDriver> {
  return {
    vxlan: (c) => new RecordingTunnelDriver('vxlan', c),
    geneve: (c) => new RecordingTunnelDriver('geneve', c),
    wireguard: (c) => new RecordingTunnelDriver('wireguard', c),
    ipsec: (c) => new RecordingTunnelDriver('ipsec', c),
  };
}
