import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { benchmarkAllocator } from '../../ipam/allocator-bench.js';
import { isRoot, newRunId, run, stopPid, type DaemonHandle } from '../../host/index.js';
import { CniLab, bridgeNetconf, type CniCallResult } from '../../scenarios/index.js';
import { startAgentProcess } from './agent-process.js';

export interface CniBenchOptions {
  /** ADD+DEL pairs per main variant (strait-ipam and host-local). */
  iterations?: number;
  print?: (line: string) => void;
}

interface Variant {
  name: string;
  netconf: Record<string, unknown>;
  extraEnv?: NodeJS.ProcessEnv;
  pod: string;
  add: number[];
  del: number[];
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))]!;
};
const f1 = (x: number): string => x.toFixed(1).padStart(7);

/**
 * `npm run bench:ipam`: ADD+DEL through the reference bridge plugin with strait-ipam and with host-local,
 * interleaved in one run so machine load hits both alike; then concurrent pod ADDs per second, the plugins
 * alone, and the in-process allocator.
 */
export async function runCniBench(o: CniBenchOptions = {}): Promise<void> {
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (!isRoot()) throw new Error('bench:ipam builds network namespaces: run it as root');
  const iterations = o.iterations ?? 1000;
  const runId = newRunId();
  const lab = new CniLab(runId);
  let agent: DaemonHandle | undefined;
  const cleanup = async (): Promise<void> => {
    if (agent) await stopPid(agent.pid);
    await lab.destroy();
  };
  const onSignal = (): void => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    await lab.setup();
    const socketPath = join(lab.dir, 'agent.sock');
    const configFile = lab.writeFile('pools.json', JSON.stringify({ pools: [{ name: 'bench', subnet: '10.77.0.0/16', gateway: '10.77.0.1', default: true }] }));
    const stateDir = join(lab.dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    agent = await startAgentProcess({ configFile, socketPath, stateDir, logFile: join(lab.dir, 'agent.log'), nodeName: 'bench-node' }, 60_000);

    const strait = bridgeNetconf({ name: 'bench-strait', bridge: 'br-strait', ipam: { type: 'strait-ipam', socket: socketPath } });
    const hostLocal = bridgeNetconf({
      name: 'bench-hl',
      bridge: 'br-hl',
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.78.0.0/16', gateway: '10.78.0.1' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(lab.dir, 'host-local') },
    });
    const variants: Variant[] = [
      { name: 'strait-ipam', netconf: strait, pod: await lab.createPod('bs'), add: [], del: [] },
      { name: 'host-local', netconf: hostLocal, pod: await lab.createPod('bh'), add: [], del: [] },
    ];
    const nodeOnly: Variant = { name: 'strait-ipam, Node only (no shell fast path)', netconf: strait, extraEnv: { STRAIT_IPAM_NODE: '1' }, pod: await lab.createPod('bn'), add: [], del: [] };

    let seq = 0;
    const pair = async (v: Variant, record: boolean): Promise<void> => {
      const id = `bench-${runId}-${seq++}`;
      const opts = { containerId: id, podNetns: v.pod, ...(v.extraEnv ? { extraEnv: v.extraEnv } : {}) };
      const t0 = performance.now();
      const a = await lab.call('ADD', v.netconf, opts);
      const t1 = performance.now();
      const d = await lab.call('DEL', v.netconf, opts);
      const t2 = performance.now();
      must(v.name, 'ADD', a);
      must(v.name, 'DEL', d);
      if (record) {
        v.add.push(t1 - t0);
        v.del.push(t2 - t1);
      }
    };

    print(`strait bench:ipam — run ${runId}: ${iterations} ADD+DEL pairs per plugin through /usr/lib/cni/bridge, interleaved`);
    for (let i = 0; i < 20; i++) for (const v of [...variants, nodeOnly]) await pair(v, false);
    const nodeEvery = 5;
    for (let i = 0; i < iterations; i++) {
      // Alternate the order so neither plugin always runs right after the other.
      for (const v of i % 2 === 0 ? variants : [...variants].reverse()) await pair(v, true);
      if (i % nodeEvery === 0) await pair(nodeOnly, true);
      if ((i + 1) % 200 === 0) print(`  ${i + 1}/${iterations}`);
    }

    print('');
    print(`${'plugin (via bridge)'.padEnd(46)} ${'ADD p50'.padStart(7)} ${'ADD p99'.padStart(7)} ${'DEL p50'.padStart(7)} ${'DEL p99'.padStart(7)}   (ms, n)`);
    for (const v of [...variants, nodeOnly]) {
      print(`${v.name.padEnd(46)} ${f1(pct(v.add, 0.5))} ${f1(pct(v.add, 0.99))} ${f1(pct(v.del, 0.5))} ${f1(pct(v.del, 0.99))}   n=${v.add.length}`);
    }
    const [s, h] = variants as [Variant, Variant];
    const ratio = (a: number[], b: number[], p: number): string => (pct(a, p) / pct(b, p)).toFixed(2);
    print(`ratio strait-ipam / host-local: ADD p50 ${ratio(s.add, h.add, 0.5)}x, p99 ${ratio(s.add, h.add, 0.99)}x; DEL p50 ${ratio(s.del, h.del, 0.5)}x, p99 ${ratio(s.del, h.del, 0.99)}x (goal: p50 <= 1.5x)`);
    const seqRate = 1000 / (s.add.reduce((x, y) => x + y, 0) / s.add.length);
    print(`sequential pod ADDs/s with strait-ipam (1 / mean ADD): ${seqRate.toFixed(1)}`);

    // Throughput: many pods at once, as a node does when a deployment scales up.
    for (const v of variants) {
      const pods = 200;
      const workers = 8;
      const nss = await Promise.all(Array.from({ length: workers }, (_, w) => lab.createPod(`${v.name === 'host-local' ? 'th' : 'ts'}${w}`)));
      let next = 0;
      const ids: { id: string; ns: string }[] = [];
      const t0 = performance.now();
      await Promise.all(
        nss.map(async (ns) => {
          for (let i = next++; i < pods; i = next++) {
            const id = `tp-${runId}-${v.name}-${i}`;
            must(v.name, 'ADD', await lab.call('ADD', v.netconf, { containerId: id, podNetns: ns, ifName: `eth${i}` }));
            ids.push({ id, ns });
          }
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      print(`concurrent pod ADDs/s via bridge, ${workers} at a time, ${pods} pods, ${v.name}: ${(pods / secs).toFixed(1)}`);
      for (const ns of nss) await lab.deletePod(ns);
    }

    // The plugins alone (no bridge): what the IPAM step itself costs.
    const ipamAlone: Record<string, number[]> = { 'strait-ipam': [], 'host-local': [] };
    for (let i = 0; i < 300; i++) {
      for (const [name, conf, bin] of [
        ['strait-ipam', strait, join(lab.binDir, 'strait-ipam')],
        ['host-local', hostLocal, '/usr/lib/cni/host-local'],
      ] as const) {
        const opts = { containerId: `alone-${runId}-${i}`, podNetns: variants[0]!.pod };
        const t0 = performance.now();
        must(name, 'ADD', await lab.call('ADD', conf, opts, bin));
        ipamAlone[name]!.push(performance.now() - t0);
        must(name, 'DEL', await lab.call('DEL', conf, opts, bin));
      }
    }
    const sa = ipamAlone['strait-ipam']!;
    const ha = ipamAlone['host-local']!;
    print(`IPAM plugin alone, ADD p50/p99 ms: strait-ipam ${pct(sa, 0.5).toFixed(1)}/${pct(sa, 0.99).toFixed(1)}, host-local ${pct(ha, 0.5).toFixed(1)}/${pct(ha, 0.99).toFixed(1)} (ratio p50 ${(pct(sa, 0.5) / pct(ha, 0.5)).toFixed(2)}x; includes ~same ip netns exec + spawn overhead)`);

    // The IPAM plugins alone, 8 at a time, exec'd directly (no namespace hop): the capacity of the IPAM step.
    for (const [name, conf, bin] of [
      ['strait-ipam', strait, join(lab.binDir, 'strait-ipam')],
      ['host-local', hostLocal, '/usr/lib/cni/host-local'],
    ] as const) {
      const total = 400;
      let next = 0;
      const env = (cmd: string, i: number): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, CNI_COMMAND: cmd, CNI_CONTAINERID: `conc-${runId}-${i}`, CNI_NETNS: `/run/netns/${variants[0]!.pod}`, CNI_IFNAME: 'eth0', CNI_PATH: lab.cniPath });
      const input = JSON.stringify(conf);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = next++; i < total; i = next++) must(name, 'ADD', { ...(await run([bin], { env: env('ADD', i), input, allowFailure: true })), json: undefined });
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      for (let i = 0; i < total; i++) await run([bin], { env: env('DEL', i), input, allowFailure: true });
      print(`IPAM plugin alone, 8 at a time, ${total} ADDs, ${name}: ${(total / secs).toFixed(1)} ADDs/s`);
    }

    for (const store of ['memory', 'file'] as const) {
      const r = await benchmarkAllocator({ store });
      print(`allocator in process (ipam/ engine, ${store} store, concurrency ${r.concurrency}): ${Math.round(r.allocationsPerSecond)} allocate+release pairs/s (${Math.round(r.operationsPerSecond)} ops/s, ${r.pairs} pairs)`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    await cleanup();
  }
}

function must(plugin: string, op: string, r: CniCallResult): void {
  if (r.code !== 0) throw new Error(`${plugin} ${op} failed (exit ${r.code}): ${r.stdout || r.stderr}`);
}
