import { describe } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describeRoot } from '../testing/index.js';
import { listNetns, newRunId, pidsInNetns, run, withNetns } from '../host/index.js';
import { parsePingTally, tunnelConformance, type ConformanceHarness } from './conformance-suite.js';
import { createTwoGateways, pingOnce, type TwoGateways } from '../scenarios/index.js';
import { createTunnelRegistry, generateIpsecPsk, generateWireguardKeyPair, podMtu, type TunnelPeer, type TunnelType } from './index.js';
import { realTunnelFactories } from './real-drivers.js';

async function harness(type: TunnelType): Promise<ConformanceHarness> {
  const topo: TwoGateways = await createTwoGateways(newRunId());
  const registry = createTunnelRegistry(realTunnelFactories());
  const ka = generateWireguardKeyPair();
  const kb = generateWireguardKeyPair();
  const kc = generateWireguardKeyPair();
  const psk = generateIpsecPsk();
  const cfgA = topo.a.config(type, { wireguardPrivateKey: ka.privateKey });
  const cfgB = topo.b.config(type, { wireguardPrivateKey: kb.privateKey });
  const a = registry.create(type, cfgA);
  const b = registry.create(type, cfgB);
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
    fresh: () => [registry.create(type, cfgA), registry.create(type, cfgB)],
    wire: async () => {
      const port = { vxlan: 4789, geneve: 6081, wireguard: 51820, ipsec: 4500 }[type];
      const [file, ...args] = withNetns(['timeout', '6', 'tcpdump', '-i', 'ul0', '-nn', '-A', '-l', '-c', '6', 'udp', 'port', String(port)], topo.b.netns);
      const cap = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      cap.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
      cap.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const done = new Promise<void>((r) => cap.once('exit', () => r()));
      const end = Date.now() + 5000;
      while (!err.includes('listening') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      // "STRAITMK" as ping's fill pattern.
      await run(['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', '-p', '5354524149544d4b', '-I', topo.a.podIp, topo.b.podIp], { netns: topo.a.netns, allowFailure: true });
      await done;
      const packets = out.split('\n').filter((l) => l.includes(`.${port}:`) || l.includes(`.${port} >`)).length;
      return { packets, markerInClear: out.includes('STRAITMK') };
    },
    pingTally: async (count, path) => {
      const [from, to] = path === 'pods' ? [topo.a.podIp, topo.b.podIp] : [topo.a.underlayIp, topo.b.underlayIp];
      const r = await run(['ping', '-n', '-c', String(count), '-i', '0.1', '-W', '1', '-I', from, to], { netns: topo.a.netns, allowFailure: true });
      return parsePingTally(r.stdout);
    },
    leftovers: async () => {
      const left: string[] = [];
      for (const side of [topo.a, topo.b]) {
        const links = await run(['ip', '-o', 'link', 'show'], { netns: side.netns });
        for (const l of links.stdout.split('\n')) {
          const name = l.split(':')[1]?.trim().split('@')[0];
          if (name && !['lo', 'ul0', 'pl0', 'pod0', 'pod1'].includes(name)) left.push(`${side.name}: link ${name}`);
        }
        for (const pid of await pidsInNetns(side.netns)) left.push(`${side.name}: pid ${pid}`);
        // The underlay is back as it was (OVS userspace borrows it).
        const ul = await run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'ul0'], { netns: side.netns });
        if (!ul.stdout.includes(`${side.underlayIp}/24`)) left.push(`${side.name}: ul0 lost ${side.underlayIp}`);
        const tables = await run(['nft', 'list', 'tables'], { netns: side.netns });
        for (const t of tables.stdout.split('\n').filter((l) => l.trim())) left.push(`${side.name}: nft ${t.trim()}`);
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
