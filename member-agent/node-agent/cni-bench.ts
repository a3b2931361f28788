import { join } from 'node:path';
import { benchmarkAllocator } from '../../ipam/allocator-bench.js';
import { isRoot, newRunId, run, startDaemon, stopPid, waitFor, type DaemonHandle } from '../../host/index.js';
import { CniLab, bridgeNetconf, pluginNetconf, REFERENCE_CNI_DIR, type CniCallOptions, type CniCallResult } from '../../scenarios/index.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { benchRunHeader, benchRunMeta, replaceMarkedSection } from '../../host/bench-doc.js';
import { nodeAgentAccess } from '../cluster/component-access.js';
import { straitConflist } from '../cni-plugin/cni-install.js';
import { repoRoot } from './repo-root.js';
import { startAgentProcess } from './agent-process.js';

export interface CniBenchOptions {
  /** ADD+DEL pairs per main variant (strait-ipam and host-local). */
  iterations?: number;
  print?: (line: string) => void;
  /** Write the run's figures into docs/benchmarks.md (## IPAM / CNI, between the bench's markers); default true. */
  doc?: boolean;
  /** The command line the doc names (default `npm run bench:ipam`). */
  command?: string;
}

/** A conflist as `strait install-cni` writes it: `ptp` with an IPAM section, then `portmap`. */
interface Chain {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

interface Variant {
  name: string;
  /** Run as a container runtime runs a conflist: each plugin in order on ADD, in reverse on DEL (cni-chain.ts). */
  chain: Chain;
  extraEnv?: NodeJS.ProcessEnv;
  /** CNI_ARGS as containerd passes them (K8S_POD_*): the agent reads the pod from its informer cache. */
  cniArgs?: string;
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

/** The installed conflist with `ipam` as its ptp plugin's IPAM section (the node agent's, or host-local for the baseline). */
function installedChain(name: string, ipam: Record<string, unknown>): Chain {
  const c = straitConflist() as unknown as Chain;
  return { ...c, name, plugins: c.plugins.map((p, i) => (i === 0 ? { ...p, ipam } : p)) };
}

/**
 * ADD (each plugin in order, each given the previous result) or DEL (in reverse, each given the ADD's result), as
 * containerd runs a conflist; the first failure is the answer, else the last plugin's.
 */
async function callChain(lab: CniLab, command: 'ADD' | 'DEL', chain: Chain, o: CniCallOptions, addResult?: Record<string, unknown>): Promise<CniCallResult> {
  const plugins = command === 'ADD' ? chain.plugins : [...chain.plugins].reverse();
  let prev = addResult;
  let last: CniCallResult | undefined;
  for (const p of plugins) {
    last = await lab.call(command, pluginNetconf(chain, p, prev), o, join(REFERENCE_CNI_DIR, String(p.type)));
    if (last.code !== 0) return last;
    if (command === 'ADD') prev = last.json;
  }
  return last!;
}

/**
 * `npm run bench:ipam`: ADD+DEL through the reference bridge plugin with strait-ipam and with host-local,
 * interleaved in one run so machine load hits both alike; then concurrent pod ADDs per second, the plugins
 * alone, and the in-process allocator.
 */
export async function runCniBench(o: CniBenchOptions = {}): Promise<void> {
  const out = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const printed: string[] = [];
  const print = (l: string): void => {
    printed.push(l);
    out(l);
  };
  if (!isRoot()) throw new Error('bench:ipam builds network namespaces: run it as root');
  const iterations = o.iterations ?? 1000;
  const runId = newRunId();
  const lab = new CniLab(runId);
  let agent: DaemonHandle | undefined;
  let kubeAgent: DaemonHandle | undefined;
  let api: DaemonHandle | undefined;
  const cleanup = async (): Promise<void> => {
    if (agent) await stopPid(agent.pid);
    if (kubeAgent) await stopPid(kubeAgent.pid);
    if (api) await stopPid(api.pid);
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
    // The ratio users see: both through the conflist `strait install-cni` writes (ptp + portmap), differing only in
    // the IPAM section. (Measured through bridge until 2026-12-06, before ptp became the installed conflist.)
    const straitChain = installedChain('bench-strait', { type: 'strait-ipam', socket: socketPath });
    const variants: Variant[] = [
      { name: 'strait-ipam', chain: straitChain, pod: await lab.createPod('bs'), add: [], del: [] },
      { name: 'host-local', chain: installedChain('bench-hl', hostLocal.ipam as Record<string, unknown>), pod: await lab.createPod('bh'), add: [], del: [] },
    ];

    // The cluster path (#13 item 1): a second agent with a kubeconfig of the (test) API server over HTTP; the pod
    // exists there with a pool annotation, and every ADD names it in CNI_ARGS. With a warm informer cache the agent
    // answers without an API round trip: this variant shows what pool selection from pod facts costs per ADD.
    // The test API server runs as a process, as in `strait lab up --kube` (a bench runs under plain node, without the
    // test face); the agent reads with the node agent's own RBAC identity.
    const apiDir = join(lab.dir, 'kube');
    mkdirSync(apiDir, { recursive: true });
    const identities = [
      { file: 'admin', user: 'admin', rules: 'all' },
      { file: 'node-agent', user: 'system:serviceaccount:strait-system:strait-node-agent', rules: nodeAgentAccess().rules },
    ];
    writeFileSync(join(apiDir, 'identities.json'), JSON.stringify(identities));
    api = startDaemon([process.execPath, join(repoRoot(), 'dist', 'testing', 'kube-api-server', 'daemon-main.js'), '--dir', apiDir, '--identities', join(apiDir, 'identities.json')], { logFile: join(lab.dir, 'kube-api.log') });
    await waitFor('the test Kubernetes API server', () => existsSync(join(apiDir, 'api.pid')), 30_000, 50);
    const kubeconfig = join(apiDir, 'node-agent.kubeconfig');
    const admin = new k8s.KubeConfig();
    admin.loadFromFile(join(apiDir, 'admin.kubeconfig'));
    const core = admin.makeApiClient(k8s.CoreV1Api);
    await core.createNode({ body: { metadata: { name: 'bench-kube-node', labels: { 'kubernetes.io/hostname': 'bench-kube-node' } } } });
    await core.createNamespace({ body: { metadata: { name: 'bench', labels: { team: 'bench' } } } });
    const benchPod = await core.createNamespacedPod({
      namespace: 'bench',
      body: { metadata: { name: 'bench-pod', labels: { app: 'bench' }, annotations: { 'ipam.strait.io/ippool': '{"ipv4":["annotated"]}' } }, spec: { nodeName: 'bench-kube-node', containers: [{ name: 'c', image: 'i' }] } },
    });
    const kubeConfigFile = lab.writeFile('pools-kube.json', JSON.stringify({
      pools: [
        { name: 'fallback', subnet: '10.79.0.0/16', default: true },
        { name: 'annotated', subnet: '10.76.0.0/16', gateway: '10.76.0.1', podAffinity: { matchLabels: { app: 'bench' } }, namespaceAffinity: { matchLabels: { team: 'bench' } } },
      ],
    }));
    const kubeSocket = join(lab.dir, 'agent-kube.sock');
    const kubeStateDir = join(lab.dir, 'state-kube');
    mkdirSync(kubeStateDir, { recursive: true });
    kubeAgent = await startAgentProcess({ configFile: kubeConfigFile, socketPath: kubeSocket, stateDir: kubeStateDir, logFile: join(lab.dir, 'agent-kube.log'), nodeName: 'bench-kube-node', kubeconfig }, 60_000);
    const kubeVariant: Variant = {
      name: 'strait-ipam, pod from Kubernetes (annotation, affinities)',
      chain: installedChain('bench-kube', { type: 'strait-ipam', socket: kubeSocket }),
      cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=bench-pod;K8S_POD_UID=${benchPod.metadata!.uid!}`,
      pod: await lab.createPod('bk'),
      add: [],
      del: [],
    };
    variants.push(kubeVariant);
    const nodeOnly: Variant = { name: 'strait-ipam, Node only (no shell fast path)', chain: straitChain, extraEnv: { STRAIT_IPAM_NODE: '1' }, pod: await lab.createPod('bn'), add: [], del: [] };

    let seq = 0;
    const pair = async (v: Variant, record: boolean): Promise<void> => {
      const id = `bench-${runId}-${seq++}`;
      const opts = { containerId: id, podNetns: v.pod, ...(v.extraEnv ? { extraEnv: v.extraEnv } : {}), ...(v.cniArgs ? { cniArgs: v.cniArgs } : {}) };
      const t0 = performance.now();
      const a = await callChain(lab, 'ADD', v.chain, opts);
      const t1 = performance.now();
      const d = await callChain(lab, 'DEL', v.chain, opts, a.json);
      const t2 = performance.now();
      must(v.name, 'ADD', a);
      must(v.name, 'DEL', d);
      // The Kubernetes variant must really have used the pod's annotation, or it measures nothing new.
      if (v.cniArgs && !JSON.stringify(a.json?.ips ?? []).includes('"10.76.')) throw new Error(`${v.name}: ADD did not use the annotated pool: ${a.stdout}`);
      if (record) {
        v.add.push(t1 - t0);
        v.del.push(t2 - t1);
      }
    };

    print(`strait bench:ipam — run ${runId}: ${iterations} ADD+DEL pairs per IPAM plugin through the installed conflist (ptp + portmap, ${REFERENCE_CNI_DIR}), interleaved`);
    for (let i = 0; i < 20; i++) for (const v of [...variants, nodeOnly]) await pair(v, false);
    const nodeEvery = 5;
    for (let i = 0; i < iterations; i++) {
      // Alternate the order so neither plugin always runs right after the other.
      for (const v of i % 2 === 0 ? variants : [...variants].reverse()) await pair(v, true);
      if (i % nodeEvery === 0) await pair(nodeOnly, true);
      if ((i + 1) % 200 === 0) print(`  ${i + 1}/${iterations}`);
    }

    print('');
    print(`${'IPAM plugin (via ptp + portmap)'.padEnd(46)} ${'ADD p50'.padStart(7)} ${'ADD p99'.padStart(7)} ${'DEL p50'.padStart(7)} ${'DEL p99'.padStart(7)}   (ms, n)`);
    for (const v of [...variants, nodeOnly]) {
      print(`${v.name.padEnd(46)} ${f1(pct(v.add, 0.5))} ${f1(pct(v.add, 0.99))} ${f1(pct(v.del, 0.5))} ${f1(pct(v.del, 0.99))}   n=${v.add.length}`);
    }
    const [s, h] = variants as [Variant, Variant];
    const ratio = (a: number[], b: number[], p: number): string => (pct(a, p) / pct(b, p)).toFixed(2);
    print(`ratio strait-ipam / host-local: ADD p50 ${ratio(s.add, h.add, 0.5)}x, p99 ${ratio(s.add, h.add, 0.99)}x; DEL p50 ${ratio(s.del, h.del, 0.5)}x, p99 ${ratio(s.del, h.del, 0.99)}x (goal: p50 <= 1.5x)`);
    print(`ratio strait-ipam with the pod from Kubernetes / host-local: ADD p50 ${ratio(kubeVariant.add, h.add, 0.5)}x, p99 ${ratio(kubeVariant.add, h.add, 0.99)}x; DEL p50 ${ratio(kubeVariant.del, h.del, 0.5)}x (goal: p50 <= 1.5x)`);
    const seqRate = 1000 / (s.add.reduce((x, y) => x + y, 0) / s.add.length);
    print(`sequential pod ADDs/s with strait-ipam (1 / mean ADD): ${seqRate.toFixed(1)}`);

    // Throughput: many pods at once, as a node does when a deployment scales up. Still through bridge: each worker
    // namespace takes many interfaces (eth0…ethN), and ptp sets up each one as a pod's only interface (its routes).
    for (const v of [s, h]) {
      const netconf = v === s ? strait : hostLocal;
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
            must(v.name, 'ADD', await lab.call('ADD', netconf, { containerId: id, podNetns: ns, ifName: `eth${i}` }));
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
    if (o.doc !== false) {
      const file = join(repoRoot(), 'docs', 'benchmarks.md');
      const body = `${benchRunHeader(benchRunMeta(o.command ?? 'npm run bench:ipam', repoRoot()))}\n\n\`\`\`\n${printed.filter((l) => !/^\s+\d+\/\d+$/.test(l)).join('\n').trim()}\n\`\`\``;
      writeFileSync(file, replaceMarkedSection(readFileSync(file, 'utf8'), 'bench:ipam', '## IPAM / CNI', body));
      out(`wrote docs/benchmarks.md (## IPAM / CNI)`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    await cleanup();
  }
}

function must(plugin: string, op: string, r: CniCallResult): void {
  if (r.code !== 0) throw new Error(`${plugin} ${op} failed (exit ${r.code}): ${r.stdout || r.stderr}`);
}
