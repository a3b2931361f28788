// `npm run bench:tunnels`: iperf3 throughput per tunnel type against a plain veth path in the same run, plus
// set-up time (init + reconcile on both gateways until the first ping crosses). Prints a table and JSON.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { newRunId, run, runDir, startDaemon, stopPid } from '../host/index.js';
import { createTunnelRegistry, generateIpsecPsk, generateWireguardKeyPair, TUNNEL_TYPES, type TunnelPeer, type TunnelType } from './index.js';
import { realTunnelFactories } from './real-drivers.js';
import { createTwoGateways, pingUntil, type TwoGateways } from '../scenarios/index.js';

interface Row {
  path: string;
  implementation: string;
  setupMs?: number;
  mbits: number[];
}

async function iperf(topo: TwoGateways, server: string, client: string, seconds: number): Promise<number> {
  mkdirSync(runDir(topo.runId), { recursive: true });
  const d = startDaemon(['iperf3', '-s', '-1', '-B', server, '-p', '5201'], { netns: topo.b.netns, logFile: join(runDir(topo.runId), 'iperf3.log') });
  try {
    for (let i = 0; i < 50; i++) {
      const ss = await run(['ss', '-ltnH', `sport = :5201`], { netns: topo.b.netns, allowFailure: true });
      if (ss.stdout.trim()) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await run(['timeout', String(seconds + 12), 'iperf3', '-c', server, '-B', client, '-p', '5201', '-t', String(seconds), '--connect-timeout', '3000', '-J'], {
      netns: topo.a.netns,
      allowFailure: true,
      timeoutMs: (seconds + 15) * 1000,
    });
    if (r.code !== 0) return 0;
    const j = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } };
    return (j.end?.sum_received?.bits_per_second ?? 0) / 1e6;
  } finally {
    await stopPid(d.pid, 1000);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 2;
  const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 0) || 3;
  const typesArg = args.includes('--types') ? args[args.indexOf('--types') + 1] : undefined;
  const types = (typesArg ? typesArg.split(',') : TUNNEL_TYPES) as TunnelType[];
  const topo = await createTwoGateways(newRunId());
  const rows: Row[] = [];
  const load = async (): Promise<string> => (await run(['cat', '/proc/loadavg'])).stdout.split(' ').slice(0, 3).join(' ');
  console.error(`run ${topo.runId}; load ${await load()}; iperf3 -t ${seconds}, ${runs} run(s) per path`);
  try {
    const plain: Row = { path: 'plain veth', implementation: 'routed veth', mbits: [] };
    rows.push(plain);
    for (let i = 0; i < runs; i++) plain.mbits.push(await iperf(topo, topo.plainB, topo.plainA, seconds));
    const registry = createTunnelRegistry(realTunnelFactories());
    for (const type of types) {
      const ka = generateWireguardKeyPair();
      const kb = generateWireguardKeyPair();
      const psk = generateIpsecPsk();
      const a = registry.create(type, topo.a.config(type, { wireguardPrivateKey: ka.privateKey }));
      const b = registry.create(type, topo.b.config(type, { wireguardPrivateKey: kb.privateKey }));
      const peer = (id: string, endpoint: string, cidr: string, pub: string): TunnelPeer => ({
        id,
        cluster: id,
        endpoint,
        remoteCidrs: [cidr],
        ...(type === 'wireguard' ? { publicKey: pub } : {}),
        ...(type === 'ipsec' ? { psk } : {}),
      });
      try {
        const t0 = performance.now();
        await Promise.all([a.init(), b.init()]);
        await a.reconcile([peer('gwb', topo.b.underlayIp, topo.b.podCidr, kb.publicKey)]);
        await b.reconcile([peer('gwa', topo.a.underlayIp, topo.a.podCidr, ka.publicKey)]);
        const ok = await pingUntil(topo.a.netns, topo.a.podIp, topo.b.podIp, 20_000);
        const setupMs = performance.now() - t0;
        const row: Row = { path: type, implementation: (await a.status()).implementation, setupMs: ok ? setupMs : undefined, mbits: [] };
        rows.push(row);
        for (let i = 0; i < runs; i++) row.mbits.push(ok ? await iperf(topo, topo.b.podIp, topo.a.podIp, seconds) : 0);
      } finally {
        await a.remove().catch(() => undefined);
        await b.remove().catch(() => undefined);
      }
    }
    const plainAgain: Row = { path: 'plain veth (again)', implementation: 'routed veth', mbits: [] };
    rows.push(plainAgain);
    for (let i = 0; i < runs; i++) plainAgain.mbits.push(await iperf(topo, topo.plainB, topo.plainA, seconds));
  } finally {
    await topo.destroy();
  }
  const base = Math.max(...rows.filter((r) => r.path.startsWith('plain')).flatMap((r) => r.mbits), 1);
  const fmt = (n: number): string => (n >= 1000 ? `${(n / 1000).toFixed(2)} Gbit/s` : `${n.toFixed(0)} Mbit/s`);
  console.log(`| path | implementation | set-up ms | throughput (runs) | best vs best plain |`);
  console.log(`|---|---|---|---|---|`);
  for (const r of rows) {
    const best = Math.max(...r.mbits);
    console.log(`| ${r.path} | ${r.implementation} | ${r.setupMs !== undefined ? r.setupMs.toFixed(0) : '-'} | ${r.mbits.map(fmt).join(', ')} | ${((best / base) * 100).toFixed(1)} % |`);
  }
  console.log(`load after: ${await load()}`);
  console.log(JSON.stringify({ rows }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
