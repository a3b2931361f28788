import { join } from 'node:path';
import { StraitError, type BrokerClient } from '../../api/index.js';
import { LatestFileWriter, run, type Logger } from '../../host/index.js';
import { createTunnelRegistry, realTunnelFactories, TUNNEL_TYPES, type TunnelType } from '../../tunnel/index.js';
import { UdpCandidateProber } from '../failover/candidate-prober.js';
import { TunnelKeeper, type TunnelKeeperStatus } from '../tunnels/tunnel-keeper.js';
import { loadTunnelKeys } from '../tunnels/tunnel-keys.js';
import { peerId } from '../tunnels/tunnel-peers.js';

/** The gateway agent's tunnel flags (`strait gateway --tunnel …`). */
export interface AgentTunnelFlags {
  readonly cluster: string;
  readonly name: string;
  readonly runId: string;
  readonly tunnel: string;
  /** Keys (unless given) and the driver's files live here. */
  readonly stateDir: string;
  readonly keyFile?: string;
  /** This gateway's underlay address: the published endpoint the other clusters' gateways connect to. */
  readonly endpoint: string;
  readonly underlayDev?: string;
  readonly statusFile?: string;
  /** Probe the remote gateways (their responders on this port) to follow their failovers at once. */
  readonly probe?: {
    readonly port: number; readonly intervalMs: number; readonly misses: number; readonly holdDownMs: number;
    readonly minDetectionMs?: number; readonly maxDetectionMs?: number;
  };
}

export interface AgentTunnels {
  readonly type: TunnelType;
  /** What goes into the broker's gateway record. */
  readonly publicKeys: { wireguard?: string; ipsec?: string };
  /** Builds the device and starts following the broker (call once the gateway is published). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function parseTunnelType(s: string): TunnelType {
  if (!(TUNNEL_TYPES as readonly string[]).includes(s)) {
    throw new StraitError('GATEWAY_INVALID_CONFIG', `--tunnel ${s}: expected one of ${TUNNEL_TYPES.join(', ')}`, { tunnel: s });
  }
  return s as TunnelType;
}

/** The device holding `ip` in this namespace (the underlay the tunnel encapsulates over). */
async function deviceOf(ip: string): Promise<string> {
  const r = await run(['ip', '-j', '-4', 'addr', 'show'], { allowFailure: true });
  const links = JSON.parse(r.stdout || '[]') as { ifname: string; addr_info?: { local?: string }[] }[];
  const dev = links.find((l) => (l.addr_info ?? []).some((a) => a.local === ip))?.ifname;
  if (!dev) throw new StraitError('GATEWAY_INVALID_CONFIG', `no device here holds the tunnel endpoint ${ip}; give --underlay-dev or the right --endpoint`, { endpoint: ip });
  return dev;
}

/**
 * Composition of the agent's own tunnels: key material from `stateDir` (or `keyFile`), the real driver of the
 * chosen type (its implementation detected at init: wireguard-go where the kernel lacks WireGuard), and a
 * TunnelKeeper following the broker.
 */
export function agentTunnels(f: AgentTunnelFlags, broker: BrokerClient, log: Logger): AgentTunnels {
  const type = parseTunnelType(f.tunnel);
  if (!f.stateDir.startsWith('/')) throw new StraitError('GATEWAY_INVALID_CONFIG', `--state-dir ${f.stateDir}: expected an absolute path`);
  const keys = loadTunnelKeys(type, f.stateDir, f.keyFile);
  let keeper: TunnelKeeper | undefined;
  const status = f.statusFile ? new LatestFileWriter(f.statusFile) : undefined;
  return {
    type,
    publicKeys: keys.publicKeys,
    async start() {
      const own = await broker.getCluster(f.cluster).catch(() => undefined);
      if (!own) log.warn({ cluster: f.cluster }, 'tunnels: own cluster not at the broker; no local CIDRs for traffic selectors');
      const driver = createTunnelRegistry(realTunnelFactories()).create(type, {
        runId: f.runId,
        gatewayId: peerId(f.cluster, f.name),
        localUnderlayIp: f.endpoint,
        underlayDev: f.underlayDev ?? (await deviceOf(f.endpoint)),
        localCidrs: (own?.podCIDRs ?? []).filter((c) => !c.includes(':')),
        stateDir: join(f.stateDir, `tunnel-${f.runId}`),
        keys: keys.local,
      });
      keeper = new TunnelKeeper({
        cluster: f.cluster,
        type,
        driver,
        broker,
        log,
        ...(status ? { onStatus: (s: TunnelKeeperStatus) => status.write(`${JSON.stringify(s)}\n`) } : {}),
        ...(f.probe
          ? {
              probe: {
                port: f.probe.port,
                holdDownMs: f.probe.holdDownMs,
                prober: () =>
                  new UdpCandidateProber({
                    intervalMs: f.probe?.intervalMs ?? 50, misses: f.probe?.misses ?? 3,
                    ...(f.probe?.minDetectionMs ? { minDetectionMs: f.probe.minDetectionMs } : {}),
                    ...(f.probe?.maxDetectionMs ? { maxDetectionMs: f.probe.maxDetectionMs } : {}),
                  }),
              },
            }
          : {}),
      });
      await keeper.start();
      log.info({ type, endpoint: f.endpoint, publicKey: keys.publicKeys.wireguard }, 'tunnels: following the broker');
    },
    async stop() {
      await keeper?.stop(true);
      await status?.flush();
    },
  };
}
