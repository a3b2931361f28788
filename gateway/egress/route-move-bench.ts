// `npm run bench:route-move [-- --moves N]`: how long one node route move takes, forking `ip -batch -` per move
// (how LinuxNodeRoutes/LinuxNodeEgress moved before issue #12) against a line written to the running
// IpBatchSession, in one throwaway namespace. Prints a table and JSON. Root; run it under the lab lock.
import { fileURLToPath } from 'node:url';
import { deleteNetns, ensureNetns, netnsName, newRunId, run } from '../../host/index.js';
import { IpBatchSession } from './ip-session.js';

/** Nearest-rank percentile of a non-empty list. */
function percentile(v: readonly number[], p: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1]!;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--moves');
  const moves = i > 0 ? Number(process.argv[i + 1]) : 200;
  if (!(Number.isInteger(moves) && moves >= 1 && moves <= 100_000)) throw new Error(`--moves must be 1..100000, got ${process.argv[i + 1]}`);
  if (!process.argv.includes('--inside')) {
    // The node agent runs inside its node's namespace and runs `ip` there directly: so does the bench (an
    // `ip netns exec` per move would add a setns and a second exec to the forked way).
    const ns = netnsName(newRunId(), 'mv');
    await ensureNetns(ns);
    try {
      const r = await run(['ip', 'netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), '--inside', '--moves', String(moves)], { allowFailure: true, timeoutMs: 3_600_000 });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      if (r.code !== 0) process.exitCode = 1;
    } finally {
      await deleteNetns(ns);
    }
    return;
  }
  const session = new IpBatchSession({});
  try {
    await run(['ip', '-batch', '-'], { input: 'link set lo up\nlink add d0 type veth peer name d1\nlink set d1 up\nlink set d0 up\naddr add 10.77.0.1/24 dev d0\n' });
    const line = (k: number): string => `route replace 10.20.0.0/16 via 10.77.0.${11 + (k % 2)} dev d0 onlink proto 94`;
    const forked: number[] = [];
    const session_: number[] = [];
    session.warm();
    await session.run([line(0)]);
    // Interleaved, so both see the same host load over the run.
    for (let k = 0; k < moves; k++) {
      let t = performance.now();
      await run(['ip', '-force', '-batch', '-'], { input: `${line(k)}\n` });
      forked.push(performance.now() - t);
      t = performance.now();
      await session.run([line(k + 1)]);
      session_.push(performance.now() - t);
    }
    const row = (name: string, v: number[]): { way: string; p50: number; p95: number; p99: number; max: number } => {
      const r = (x: number): number => Math.round(x * 100) / 100;
      return { way: name, p50: r(percentile(v, 50)), p95: r(percentile(v, 95)), p99: r(percentile(v, 99)), max: r(Math.max(...v)) };
    };
    const rows = [row('fork ip -batch per move', forked), row('IpBatchSession line', session_)];
    const load = (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ');
    process.stdout.write(`route move latency, ${moves} moves each, host load ${load}\n| way | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|\n`);
    for (const r of rows) process.stdout.write(`| ${r.way} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} |\n`);
    process.stdout.write(`${JSON.stringify({ moves, load, rows })}\n`);
  } finally {
    session.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
