// `npm run bench:sync`: time from a change at the broker to the CRD written in 20 member clusters (20 agents in
// one process against 20 test API servers, one real broker on a real Redis). Baseline, side by side: the same
// change seen by a bare broker watch client. Run through jest (the test API server lives in testing/).
import { it } from '@jest/globals';
import { createLogger } from '../../host/index.js';
import { startTestKubeApiServer, startTestRedis, type TestKubeApiServer, startTestBroker } from '../../testing/index.js';
import { joinCluster } from './join.js';
import { MemberAgent } from './member-agent.js';

const CLUSTERS = Number(process.env.SYNC_BENCH_CLUSTERS ?? 20);
const CHANGES = Number(process.env.SYNC_BENCH_CHANGES ?? 40);
const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

it(`sync latency broker → CRD in ${CLUSTERS} clusters`, async () => {
  const log = createLogger('bench', 'silent');
  const redis = await startTestRedis();
  const broker = await startTestBroker(redis.socket);
  const apis: TestKubeApiServer[] = [];
  const agents: MemberAgent[] = [];
  const abort = new AbortController();
  try {
    const { token } = await broker.admin.createToken({ uses: CLUSTERS });
    for (let i = 0; i < CLUSTERS; i++) {
      const api = await startTestKubeApiServer();
      apis.push(api);
      await joinCluster({ kubeConfig: api.kubeConfig(), brokerUrl: broker.handle.url, token, clusterId: `c${i}`, podCidrs: [`10.${100 + i}.0.0/16`] });
      const agent = new MemberAgent({ kubeConfig: api.kubeConfig(), log, leaseDurationMs: 10_000, resyncMs: 60_000 });
      await agent.start();
      agents.push(agent);
    }
    // Wait until every agent leads and mirrors (a warm-up subnet everywhere).
    const seen = new Map<string, number[]>();
    apis.forEach((api) => api.store.subscribe((e) => {
      if (e.resource === 'ipam.strait.io/subnets' && e.type === 'ADDED') {
        const name = e.object.metadata.name ?? '';
        seen.set(name, [...(seen.get(name) ?? []), performance.now()]);
      }
    }));
    const watchSeen = new Map<string, number>();
    const watcher = broker.client(broker.handle.adminToken);
    void watcher.watch('0', (e) => {
      if (e.kind === 'Subnet' && e.type === 'ADDED') watchSeen.set(String(e.object.name), performance.now());
    }, abort.signal).catch(() => undefined);
    const waitAll = async (name: string): Promise<void> => {
      const end = Date.now() + 60_000;
      while ((seen.get(name)?.length ?? 0) < CLUSTERS || !watchSeen.has(name)) {
        if (Date.now() > end) throw new Error(`${name}: only ${seen.get(name)?.length ?? 0} of ${CLUSTERS} clusters`);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    await broker.admin.createSubnet({ name: 'warmup', cidr: '10.200.0.0/16' });
    await waitAll('warmup');

    const sync: number[] = [];
    const last: number[] = [];
    const base: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < CHANGES; i++) {
      const name = `bench-${i}`;
      const start = performance.now();
      await broker.admin.createSubnet({ name, cidr: `10.${201 + Math.floor(i / 256)}.${i % 256}.0/24` });
      await waitAll(name);
      const times = seen.get(name)!.map((t) => t - start);
      sync.push(...times);
      last.push(Math.max(...times));
      base.push(watchSeen.get(name)! - start);
    }
    const wall = (performance.now() - t0) / 1000;
    const f = (n: number): string => `${n.toFixed(1)} ms`;
    out(`\n## bench:sync — ${CLUSTERS} member clusters, ${CHANGES} Subnet creations at the broker (${wall.toFixed(1)} s)`);
    out(`| measure | p50 | p99 | max |`);
    out(`|---|---|---|---|`);
    out(`| broker change → CRD written, per cluster (${sync.length} samples) | ${f(pct(sync, 50))} | ${f(pct(sync, 99))} | ${f(Math.max(...sync))} |`);
    out(`| broker change → CRD written in all ${CLUSTERS} clusters | ${f(pct(last, 50))} | ${f(pct(last, 99))} | ${f(Math.max(...last))} |`);
    out(`| baseline: broker change → bare watch client | ${f(pct(base, 50))} | ${f(pct(base, 99))} | ${f(Math.max(...base))} |`);
    out(`ratio p50 per-cluster sync / bare watch: ${(pct(sync, 50) / pct(base, 50)).toFixed(1)}x`);
  } finally {
    abort.abort();
    for (const a of agents) await a.stop();
    for (const api of apis) await api.stop();
    await broker.stop();
    await redis.stop();
  }
}, 600_000);
