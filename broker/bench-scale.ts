// `npm run bench:scale`: CLUSTERS simulated member clusters (light agents: a BrokerClient each, spread over a few
// child processes) against one broker process on one real redis-server, over real HTTP and watches. They join, lease
// a block for each of 20 nodes and then addresses up to LEASES leases in all, report their complete node and owner
// sets by heartbeat and open a watch each; then pool changes are timed to every watcher, and the owner GC and the
// gc job are run at that size (next to the listing each of them did on every run before). Prints JSON and writes
// its latest run into docs/benchmarks.md (`## Scale`, between its markers; `--no-doc` leaves the doc alone).
// Small: `npm run bench:scale -- --clusters 16 --leases 20000 --no-doc` (well under a minute).
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from '../host/index.js';
import { runAgentChild } from './bench-scale-agents.js';
import { renderScaleRun, replaceScaleRun } from './bench-scale-doc.js';
import { runScale, validateScaleOptions } from './bench-scale-run.js';

const REPO = new URL('../..', import.meta.url).pathname;
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' / ');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clusters: { type: 'string', default: '512' },
      leases: { type: 'string', default: '1000000' },
      procs: { type: 'string', default: '4' },
      changes: { type: 'string', default: '50' },
      'no-listing': { type: 'boolean', default: false },
      'no-doc': { type: 'boolean', default: false },
    },
  });
  const opts = { clusters: Number(values.clusters), leases: Number(values.leases), procs: Number(values.procs), changes: Number(values.changes) };
  const bad = validateScaleOptions(opts);
  if (bad) {
    process.stderr.write(`bench-scale: ${bad}\nusage: bench-scale [--clusters N ≤ 1600] [--leases N] [--procs N (0: in this process)] [--changes N] [--no-listing] [--no-doc]\n`);
    process.exit(2);
  }
  const loadStart = loadavg();
  const figures = await runScale({
    ...opts,
    cliMain: new URL('../cli/main.js', import.meta.url).pathname,
    agentMain: new URL(import.meta.url).pathname,
    compareListing: !values['no-listing'],
    log: (line) => process.stderr.write(`bench-scale ${new Date().toISOString().slice(11, 19)} ${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  if (values['no-doc']) return;
  const commit = (await run(['git', '-C', REPO, 'rev-parse', 'HEAD'])).stdout.trim();
  const dirty = (await run(['git', '-C', REPO, 'status', '--porcelain', '--untracked-files=no'])).stdout.trim() !== '';
  const args = process.argv.slice(2).filter((a) => a !== '--no-doc');
  const command = ['npm run bench:scale', ...(args.length ? ['--', ...args] : [])].join(' ');
  const date = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const path = join(REPO, 'docs', 'benchmarks.md');
  writeFileSync(path, replaceScaleRun(readFileSync(path, 'utf8'), renderScaleRun(figures, { commit, dirty, date, command, cpus: cpus().length, loadStart, loadEnd: loadavg() })));
  process.stdout.write(`wrote ${path} (## Scale, latest run)\n`);
}

if (process.argv.includes('--child')) runAgentChild();
else await main();
