// `npm run bench:lab`: how long `lab up` and `lab down` take per topology and tunnel type, against the plain
// (no tunnel) build of the same topology in the same run. Options: --runs N (default 2), --topologies a,b,
// --tunnels vxlan,geneve,... Prints a table and the JSON rows. Needs root.
import { labUp } from './lab.js';
import type { LabStepEvent } from './executor.js';

interface Row {
  topology: string;
  tunnel: string;
  upMs: number[];
  downMs: number[];
  phases: Record<string, number>[];
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] ?? 0);
};

async function measure(topology: string, tunnel: string | undefined, row: Row): Promise<void> {
  const phases: Record<string, number> = {};
  const t0 = performance.now();
  const lab = await labUp({ topology, ...(tunnel ? { tunnel } : {}), onStep: (e: LabStepEvent) => void (phases[e.phase] = e.ms) });
  row.upMs.push(Math.round(performance.now() - t0));
  const t1 = performance.now();
  await lab.down();
  row.downMs.push(Math.round(performance.now() - t1));
  row.phases.push(phases);
}

async function main(): Promise<void> {
  const runs = Number(arg('runs', '2'));
  const topologies = arg('topologies', 'two-clusters,three-clusters').split(',');
  const tunnels = arg('tunnels', 'vxlan,geneve,wireguard,ipsec').split(',');
  const rows: Row[] = [];
  for (const topology of topologies) {
    const configs = ['plain', ...tunnels];
    const byConfig = new Map(configs.map((c) => [c, { topology, tunnel: c, upMs: [], downMs: [], phases: [] } as Row]));
    // Interleave runs (plain, vxlan, …, plain, vxlan, …) so machine load hits every config alike.
    for (let r = 0; r < runs; r++) {
      for (const c of configs) {
        const row = byConfig.get(c);
        if (row) await measure(topology, c === 'plain' ? undefined : c, row);
      }
    }
    rows.push(...byConfig.values());
  }
  const out: string[] = ['| topology | tunnel | lab up ms (runs) | median vs plain | lab down ms (runs) | slowest phases (last run) |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const plain = rows.find((x) => x.topology === r.topology && x.tunnel === 'plain');
    const ratio = plain ? median(r.upMs) / Math.max(1, median(plain.upMs)) : 1;
    const last = r.phases[r.phases.length - 1] ?? {};
    const slow = Object.entries(last)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([p, ms]) => `${p} ${ms}`)
      .join(', ');
    out.push(`| ${r.topology} | ${r.tunnel} | ${r.upMs.join(', ')} | ${ratio.toFixed(2)}× | ${r.downMs.join(', ')} | ${slow} |`);
  }
  process.stdout.write(`${out.join('\n')}\n\n${JSON.stringify(rows)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
