// `npm run bench:wireguard-move [-- --moves N]` (root, under the lab lock):
// time of the failover move on wireguard-go (a remote cluster's CIDR leaves one peer for another), through the
// driver (UAPI socket) and, interleaved in the same run as the baseline, through the two forks the driver made
// before (`ip netns exec … wg show <if> dump`, then `ip netns exec … wg set <if> …` with the same peers).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newRunId, run } from '../host/index.js';
import { benchRunHeader, benchRunMeta, replaceMarkedSection } from '../host/bench-doc.js';
import { generateWireguardKeyPair, WireguardDriver, type TunnelPeer } from './index.js';
import { createTwoGateways } from '../scenarios/index.js';

function stats(ms: number[]): string {
  const s = [...ms].sort((x, y) => x - y);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `n ${s.length}, median ${q(0.5).toFixed(1)} ms, p90 ${q(0.9).toFixed(1)} ms, min ${s[0]!.toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const moves = Number(args[args.indexOf('--moves') + 1] ?? 0) || 100;
  const topo = await createTwoGateways(newRunId());
  const load = async (): Promise<string> => (await run(['cat', '/proc/loadavg'])).stdout.split(' ').slice(0, 3).join(' ');
  console.error(`run ${topo.runId}; load ${await load()}; ${moves} moves each way`);
  const ka = generateWireguardKeyPair();
  const kb = generateWireguardKeyPair();
  const kc = generateWireguardKeyPair();
  const a = new WireguardDriver({ ...topo.a.config('wireguard', { wireguardPrivateKey: ka.privateKey }), implementation: 'wireguard-go' });
  const spare = '10.31.0.0/24';
  const gwb = (cidr: string): TunnelPeer => ({ id: 'gwb', cluster: 'c2', endpoint: topo.b.underlayIp, remoteCidrs: [cidr], publicKey: kb.publicKey });
  const gwc = (cidr: string): TunnelPeer => ({ id: 'gwc', cluster: 'c2', endpoint: '192.168.77.3', remoteCidrs: [cidr], publicKey: kc.publicKey });
  const wgPeer = (p: TunnelPeer): string[] => ['peer', p.publicKey!, 'endpoint', `${p.endpoint}:51820`, 'allowed-ips', p.remoteCidrs.join(','), 'persistent-keepalive', '25', 'preshared-key', '/dev/null'];
  const uapi: number[] = [];
  const forks: number[] = [];
  try {
    await a.init();
    await a.reconcile([gwb(topo.b.podCidr), gwc(spare)]);
    for (let i = 0; i < moves; i++) {
      // Away from gwb through the driver, back through the forks (the driver's next reconcile reads the device, so
      // it sees the forked move). The plan puts the new holder of the CIDR first, as the tunnel keeper does.
      let t = performance.now();
      await a.reconcile([gwc(topo.b.podCidr), gwb(spare)]);
      uapi.push(performance.now() - t);
      if (i === 0 && (await a.status()).peers.find((p) => p.id === 'gwc')?.remoteCidrs[0] !== topo.b.podCidr) throw new Error('the move did not happen');
      t = performance.now();
      await run(['wg', 'show', a.ifname, 'dump'], { netns: topo.a.netns });
      await run(['wg', 'set', a.ifname, ...[gwb(topo.b.podCidr), gwc(spare)].flatMap(wgPeer)], { netns: topo.a.netns });
      forks.push(performance.now() - t);
    }
    const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const lines = [
      `driver over UAPI (get + set, no fork): ${stats(uapi)}`,
      `wg show + wg set via ip netns exec:     ${stats(forks)}`,
      `median ratio (forks / UAPI): ${(med(forks) / med(uapi)).toFixed(1)}×`,
    ];
    for (const l of lines) console.log(l);
    if (!args.includes('--no-doc')) {
      // dist/tunnel/ → the repository root.
      const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
      const file = join(root, 'docs', 'benchmarks.md');
      const body = `${benchRunHeader(benchRunMeta(`npm run bench:wireguard-move -- --moves ${moves}`, root))}\n\n\`\`\`\n${lines.join('\n')}\n\`\`\``;
      writeFileSync(file, replaceMarkedSection(readFileSync(file, 'utf8'), 'bench:wireguard-move', '### WireGuard failover move: UAPI socket against the `wg` forks (#12)', body));
      console.error('wrote docs/benchmarks.md (WireGuard failover move)');
    }
    console.error(`load at the end ${await load()}`);
  } finally {
    await a.remove();
    await topo.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
