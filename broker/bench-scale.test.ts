import { describe, expect, it } from '@jest/globals';
import { BEGIN, END, renderScaleRun, replaceScaleRun } from './bench-scale-doc.js';
import { runScale, validateScaleOptions } from './bench-scale-run.js';

// bench:scale in small: the same run as `npm run bench:scale` (a broker process from the built CLI on a real
// redis-server, real HTTP and watches), with its agents in this process, so the bench cannot rot unseen.
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;

describe('bench:scale', () => {
  it('runs small: every lease, every change at every watcher, both GCs return what they should', async () => {
    const clusters = 8;
    const f = await runScale({ clusters, leases: clusters * 20 + clusters * 300, procs: 0, changes: 5, cliMain: CLI, compareListing: true });
    expect(f.leases).toBe(clusters * 320);
    expect(f.propagation).toMatchObject({ watchers: clusters, incompleteChanges: 0, deliveries: clusters * 5, watchErrors: 0, rewatches: 0 });
    expect(f.propagation.warmUps).toBe(1);
    // one owner; then a node and two owners of every cluster (cluster 0's first owner is gone already)
    expect(f.ownerGc.oneOwnerGone.returned).toBe(1);
    expect(f.ownerGc.everyClusterOneNodeTwoOwnersGone.returned).toBe(clusters * 3);
    // the cluster that left: nothing in its grace, all of what it still held once due
    expect(f.gcJob.heldByLeaver).toBe(19 + 298);
    expect(f.gcJob.returned).toBe(f.gcJob.heldByLeaver);
    expect(f.brokerRssMiB.peak).toBeGreaterThan(0);
    expect(f.redisMemoryMiB.used).toBeGreaterThan(0);
    const doc = replaceScaleRun('# Benchmarks\n\n## Scale\n\nintro\n\n## Tunnels\n\nt\n', renderScaleRun(f, { commit: 'abc', dirty: false, date: 'd', command: 'c', cpus: 2, loadStart: '1', loadEnd: '2' }));
    expect(doc).toContain('**' + f.leasing.leasesPerSecond.toLocaleString('en-US') + ' leases/s**');
  }, 180_000);

  it('refuses sizes it cannot run', () => {
    expect(validateScaleOptions({ clusters: 512, leases: 1_000_000, procs: 4, changes: 50 })).toBeUndefined();
    expect(validateScaleOptions({ clusters: 512, leases: 100, procs: 4, changes: 50 })).toMatch(/leases must be between 10240/);
    expect(validateScaleOptions({ clusters: 2000, leases: 100_000, procs: 4, changes: 50 })).toMatch(/1,600/);
    expect(validateScaleOptions({ clusters: 8, leases: 1000, procs: -1, changes: 1 })).toMatch(/procs/);
  });

  it('writes its run between its markers at the end of ## Scale, and replaces only that afterwards', () => {
    const doc = '# Benchmarks\n\n## Scale\n\nCommand: …\n\n## Tunnels\n\nt\n';
    const first = replaceScaleRun(doc, `${BEGIN}\nrun 1\n${END}`);
    expect(first).toBe(`# Benchmarks\n\n## Scale\n\nCommand: …\n\n${BEGIN}\nrun 1\n${END}\n\n## Tunnels\n\nt\n`);
    expect(replaceScaleRun(first, `${BEGIN}\nrun 2\n${END}`)).toBe(first.replace('run 1', 'run 2'));
    expect(replaceScaleRun('# B\n', `${BEGIN}\nx\n${END}`)).toBe(`# B\n\n## Scale\n\n${BEGIN}\nx\n${END}\n`);
  });
});
