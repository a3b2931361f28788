import { run, runDir } from '../../host/index.js';
import type { TunnelLocalConfig, TunnelLocalKeys } from '../../tunnel/index.js';
import { labUp } from '../lab/lab.js';
import { TWO_GATEWAYS_NET, twoGatewaysTopology } from './hand-built.js';

/**
 * Minimal topology for the tunnel drivers' root tests (conformance suite, key rotation) and `bench:tunnels`: two gateway namespaces joined by a veth
 * underlay, each with a "pod" subnet on a veth pair holding .1 (so the gateway itself can source traffic
 * from its pod CIDR), all named by one run id. A thin adapter: the scenarios lab builds it
 * (`twoGatewaysTopology`), records it and tears it down, so `strait lab down <run>` sweeps what a failed test left.
 *
 *   gwa [pod0 10.10.1.1/24] ul0 192.168.77.1/24 ──veth── ul0 192.168.77.2/24 gwb [pod0 10.20.1.1/24]
 */
export interface TwoGateways {
  readonly runId: string;
  readonly a: GatewaySide;
  readonly b: GatewaySide;
  /** Plain routed path for baselines: extra veth pair `pl0` with 10.99.0.1/30 – 10.99.0.2/30. */
  readonly plainA: string;
  readonly plainB: string;
  destroy(): Promise<void>;
}

export interface GatewaySide {
  readonly name: 'gwa' | 'gwb';
  readonly netns: string;
  readonly underlayIp: string;
  readonly podCidr: string;
  readonly podIp: string;
  config(type: string, keys?: TunnelLocalKeys): TunnelLocalConfig;
}

export async function createTwoGateways(runId: string): Promise<TwoGateways> {
  const lab = await labUp({ topology: twoGatewaysTopology(), runId });
  const side = (name: 'gwa' | 'gwb'): GatewaySide => {
    const n = TWO_GATEWAYS_NET[name];
    const netns = lab.netns(name);
    return {
      name,
      netns,
      underlayIp: n.underlayIp,
      podCidr: n.podCidr,
      podIp: n.podIp,
      config: (type, keys) => ({
        runId,
        netns,
        gatewayId: name,
        localUnderlayIp: n.underlayIp,
        underlayDev: 'ul0',
        localCidrs: [n.podCidr],
        stateDir: `${runDir(runId)}/${name}-${type}`,
        ...(keys ? { keys } : {}),
      }),
    };
  };
  return {
    runId,
    a: side('gwa'),
    b: side('gwb'),
    plainA: TWO_GATEWAYS_NET.gwa.plainIp,
    plainB: TWO_GATEWAYS_NET.gwb.plainIp,
    destroy: async () => {
      await lab.down();
    },
  };
}

/** One ping from `netns`, sourced from `from`; true when answered. `size` is the ICMP payload, sent with DF. */
export async function pingOnce(netns: string, from: string, to: string, opts: { size?: number; timeoutS?: number } = {}): Promise<boolean> {
  const argv = ['ping', '-n', '-c', '1', '-W', String(opts.timeoutS ?? 1), '-I', from, to];
  if (opts.size !== undefined) argv.push('-M', 'do', '-s', String(opts.size));
  const r = await run(argv, { netns, allowFailure: true, timeoutMs: 10_000 });
  return r.code === 0;
}

/** Pings until one answer or the deadline (tunnels with handshakes need a moment). */
export async function pingUntil(netns: string, from: string, to: string, deadlineMs: number, size?: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await pingOnce(netns, from, to, { size, timeoutS: 1 })) return true;
  }
  return false;
}
