import { describe } from '@jest/globals';
import { existsSync } from 'node:fs';
import { describeRoot } from '../testing/index.js';
import { listNetns, newRunId, pidsInNetns, run } from '../host/index.js';
import { tunnelConformance, type ConformanceHarness } from './conformance-suite.js';
import { createTwoGateways, pingOnce, type TwoGateways } from './two-gateway-topology.js';
import { createTunnelRegistry, generateIpsecPsk, generateWireguardKeyPair, podMtu, type TunnelPeer, type TunnelType } from './index.js';
import { realTunnelFactories } from './real-drivers.js';

async function harness(type: TunnelType): Promise<ConformanceHarness> {
  const topo: TwoGateways = await createTwoGateways(newRunId());
  const registry = createTunnelRegistry(realTunnelFactories());
  const ka = generateWireguardKeyPair();
  const kb = generateWireguardKeyPair();
  const kc = generateWireguardKeyPair();
  const psk = generateIpsecPsk();
  const a = registry.create(type, topo.a.config(type, { wireguardPrivateKey: ka.privateKey }));
  const b = registry.create(type, topo.b.config(type, { wireguardPrivateKey: kb.privateKey }));
  const peer = (id: string, endpoint: string, cidr: string, pub: string): TunnelPeer => ({
    id,
    cluster: `c-${id}`,
    endpoint,
    remoteCidrs: [cidr],
    ...(type === 'wireguard' ? { publicKey: pub } : {}),
    ...(type === 'ipsec' ? { psk } : {}),
  });
  return {
    type,
    a,
    b,
    peerB: () => peer('gwb', topo.b.underlayIp, topo.b.podCidr, kb.publicKey),
    peerA: () => peer('gwa', topo.a.underlayIp, topo.a.podCidr, ka.publicKey),
    phantom: () => peer('gwc', '192.168.77.3', '10.30.1.0/24', kc.publicKey),
    reach: (size) => pingOnce(topo.a.netns, topo.a.podIp, topo.b.podIp, { size, timeoutS: 1 }),
    podMtu: podMtu(type),
    leftovers: async () => {
      const left: string[] = [];
      for (const side of [topo.a, topo.b]) {
        const links = await run(['ip', '-o', 'link', 'show'], { netns: side.netns });
        for (const l of links.stdout.split('\n')) {
          const name = l.split(':')[1]?.trim().split('@')[0];
          if (name && !['lo', 'ul0', 'pl0', 'pod0', 'pod1'].includes(name)) left.push(`${side.name}: link ${name}`);
        }
        for (const pid of await pidsInNetns(side.netns)) left.push(`${side.name}: pid ${pid}`);
        const cfg = side.config(type);
        if (existsSync(cfg.stateDir)) left.push(`${side.name}: ${cfg.stateDir}`);
      }
      const wg = await run(['sh', '-c', `ls /var/run/wireguard 2>/dev/null | grep ${topo.runId} || true`]);
      if (wg.stdout.trim()) left.push(`wireguard sockets: ${wg.stdout.trim()}`);
      return left;
    },
    teardown: async () => {
      await a.remove().catch(() => undefined);
      await b.remove().catch(() => undefined);
      await topo.destroy();
      const ours = (await listNetns()).filter((n) => n.includes(topo.runId));
      if (ours.length) throw new Error(`namespaces left: ${ours.join(' ')}`);
    },
  };
}

const TYPES = (process.env.STRAIT_TUNNEL_TYPES?.split(',') ?? Object.keys(realTunnelFactories())) as TunnelType[];

describeRoot('real tunnel drivers (conformance, two namespaces)', () => {
  for (const type of TYPES) {
    describe(type, () => {
      tunnelConformance(() => harness(type));
    });
  }
});
