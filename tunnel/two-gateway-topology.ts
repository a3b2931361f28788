import { rmSync } from 'node:fs';
import { deleteNetns, ensureNetns, netnsName, pidsInNetns, run, runDir, sh, stopPid } from '../host/index.js';
import type { TunnelLocalConfig, TunnelLocalKeys } from './types.js';

/**
 * Minimal topology for the conformance suite and the benchmark: two gateway namespaces joined by a veth
 * underlay, each with a "pod" subnet on a veth pair holding .1 (so the gateway itself can source traffic
 * from its pod CIDR), all named by one run id.
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
  const nsA = netnsName(runId, 'gwa');
  const nsB = netnsName(runId, 'gwb');
  const destroy = async (): Promise<void> => {
    for (const ns of [nsA, nsB]) {
      for (const pid of await pidsInNetns(ns)) await stopPid(pid, 1000);
      await deleteNetns(ns);
    }
    rmSync(runDir(runId), { recursive: true, force: true });
  };
  try {
    await ensureNetns(nsA);
    await ensureNetns(nsB);
    await sh(['ip', '-n', nsA, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', nsB]);
    await sh(['ip', '-n', nsA, 'link', 'add', 'pl0', 'type', 'veth', 'peer', 'name', 'pl0', 'netns', nsB]);
    const sides: [string, string, string, string][] = [
      [nsA, '192.168.77.1/24', '10.10.1.1/24', '10.99.0.1/30'],
      [nsB, '192.168.77.2/24', '10.20.1.1/24', '10.99.0.2/30'],
    ];
    for (const [ns, ul, pod, plain] of sides) {
      await sh(['ip', '-n', ns, 'addr', 'add', ul, 'dev', 'ul0']);
      await sh(['ip', '-n', ns, 'link', 'set', 'ul0', 'up']);
      await sh(['ip', '-n', ns, 'addr', 'add', plain, 'dev', 'pl0']);
      await sh(['ip', '-n', ns, 'link', 'set', 'pl0', 'up']);
      // No dummy link type on this kernel: a veth pair with both ends in the gateway stands in for the pod LAN.
      await sh(['ip', '-n', ns, 'link', 'add', 'pod0', 'type', 'veth', 'peer', 'name', 'pod1']);
      await sh(['ip', '-n', ns, 'addr', 'add', pod, 'dev', 'pod0']);
      await sh(['ip', '-n', ns, 'link', 'set', 'pod1', 'up']);
      await sh(['ip', '-n', ns, 'link', 'set', 'pod0', 'up']);
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  const side = (name: 'gwa' | 'gwb', netns: string, underlayIp: string, podCidr: string, podIp: string): GatewaySide => ({
    name,
    netns,
    underlayIp,
    podCidr,
    podIp,
    config: (type, keys) => ({
      runId,
      netns,
      gatewayId: name,
      localUnderlayIp: underlayIp,
      underlayDev: 'ul0',
      localCidrs: [podCidr],
      stateDir: `${runDir(runId)}/${name}-${type}`,
      ...(keys ? { keys } : {}),
    }),
  });
  return {
    runId,
    a: side('gwa', nsA, '192.168.77.1', '10.10.1.0/24', '10.10.1.1'),
    b: side('gwb', nsB, '192.168.77.2', '10.20.1.0/24', '10.20.1.1'),
    plainA: '10.99.0.1',
    plainB: '10.99.0.2',
    destroy,
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
