// What `npm run bench:scale` writes into docs/benchmarks.md: its latest run, between two markers in `## Scale`
// (pure: the bench does the I/O).
import { count as n, loadedRunLine, placeMarkedSection, type LoadedRunMeta } from '../host/bench-doc.js';

export interface ScaleFigures {
  clusters: number;
  agentProcesses: number;
  leases: number;
  join: { totalMs: number; perSecond: number; p50Ms: number; p99Ms: number };
  leasing: { totalMs: number; leasesPerSecond: number; requests: number; requestP50Ms: number; requestP99Ms: number };
  heartbeats: { totalMs: number; ownersPerHeartbeat: number; p50Ms: number; p99Ms: number };
  propagation: {
    changes: number;
    watchers: number;
    warmUps: number;
    incompleteChanges: number;
    deliveries: number;
    perDeliveryMs: { p50: number; p99: number; max: number };
    toAllWatchersMs: { p50: number; p99: number; max: number };
    watchErrors: number;
    rewatches: number;
    linesReceived: number;
  };
  brokerRssMiB: { afterLeases: number; watching: number; peak: number };
  redisMemoryMiB: { used: number; rss: number };
  ownerGc: {
    idleMs: number;
    oneOwnerGone: { markMs: number; returnMs: number; returned: number };
    everyClusterOneNodeTwoOwnersGone: { markMs: number; returnMs: number; returned: number };
    slowestRunMs: number;
    listingAsBeforeMs?: number;
  };
  gcJob: { idleMs: number; oneClusterLeftMs: number; oneClusterDueMs: number; returned: number; heldByLeaver: number; afterMs: number; listingAsBeforeMs?: number };
  goals: { brokerRssAtMost512MiB: boolean; propagationP99ToAllAtMost200ms: boolean; ownerGcUnder1sPerRun: boolean };
}

export const BEGIN = '<!-- bench:scale latest run: written by `npm run bench:scale`, replaced by its next run -->';
export const END = '<!-- /bench:scale -->';

const ms = (x: number | undefined): string => (x === undefined ? '–' : x < 10 ? `${x.toFixed(1)} ms` : `${n(x)} ms`);
const goal = (met: boolean): string => (met ? 'met' : '**missed**');

export function renderScaleRun(f: ScaleFigures, m: LoadedRunMeta): string {
  const p = f.propagation;
  const l: string[] = [BEGIN, '', '### Latest run', ''];
  l.push(
    loadedRunLine(m, 'the times move with its load'),
    '',
    `${n(f.clusters)} clusters in ${f.agentProcesses || 'the bench\'s own'} agent process${f.agentProcesses === 1 ? '' : 'es'}, ${n(f.leases)} leases.`,
    '',
    '| figure | this run | goal |',
    '|---|---|---|',
    `| join, all clusters (per join p50 / p99) | ${ms(f.join.totalMs)}, ${f.join.perSecond}/s (${ms(f.join.p50Ms)} / ${ms(f.join.p99Ms)}) | |`,
    `| leasing, all leases (${n(f.leasing.requests)} batch requests, p50 / p99) | ${ms(f.leasing.totalMs)}: **${n(f.leasing.leasesPerSecond)} leases/s** (${ms(f.leasing.requestP50Ms)} / ${ms(f.leasing.requestP99Ms)}) | |`,
    `| heartbeats with complete sets (${n(f.heartbeats.ownersPerHeartbeat)} owners each, p50 / p99) | ${ms(f.heartbeats.totalMs)} (${ms(f.heartbeats.p50Ms)} / ${ms(f.heartbeats.p99Ms)}) | |`,
    `| pool change → all ${n(p.watchers)} watchers, p50 / p99 / max (${p.changes} changes) | ${ms(p.toAllWatchersMs.p50)} / **${ms(p.toAllWatchersMs.p99)}** / ${ms(p.toAllWatchersMs.max)} | p99 ≤ 200 ms: ${goal(f.goals.propagationP99ToAllAtMost200ms)} |`,
    `| pool change → one watcher, p50 / p99 (${n(p.deliveries)} deliveries) | ${ms(p.perDeliveryMs.p50)} / ${ms(p.perDeliveryMs.p99)} | |`,
    `| changes not seen by every watcher; watch errors; re-watches | ${p.incompleteChanges}; ${p.watchErrors}; ${p.rewatches} | 0 |`,
    `| broker RSS after leasing / watching / peak | ${f.brokerRssMiB.afterLeases} / ${f.brokerRssMiB.watching} / **${f.brokerRssMiB.peak} MiB** | ≤ 512 MiB: ${goal(f.goals.brokerRssAtMost512MiB)} |`,
    `| Redis used_memory / RSS | ${f.redisMemoryMiB.used} / ${f.redisMemoryMiB.rss} MiB | |`,
    `| owner GC: idle run; one owner gone (mark, return) | ${ms(f.ownerGc.idleMs)}; ${ms(f.ownerGc.oneOwnerGone.markMs)}, ${ms(f.ownerGc.oneOwnerGone.returnMs)} | |`,
    `| owner GC: a node and two owners gone in every cluster (mark, return ${n(f.ownerGc.everyClusterOneNodeTwoOwnersGone.returned)} leases) | ${ms(f.ownerGc.everyClusterOneNodeTwoOwnersGone.markMs)}, ${ms(f.ownerGc.everyClusterOneNodeTwoOwnersGone.returnMs)} | |`,
    `| owner GC: slowest run | **${ms(f.ownerGc.slowestRunMs)}** | < 1 s: ${goal(f.goals.ownerGcUnder1sPerRun)} |`,
    `| owner GC: the listing every run read before the holder index | ${ms(f.ownerGc.listingAsBeforeMs)} | |`,
    `| gc job: idle run; a cluster left (in grace); due (returns ${n(f.gcJob.returned)} of its ${n(f.gcJob.heldByLeaver)} leases); next run | ${ms(f.gcJob.idleMs)}; ${ms(f.gcJob.oneClusterLeftMs)}; ${ms(f.gcJob.oneClusterDueMs)}; ${ms(f.gcJob.afterMs)} | |`,
    `| gc job: the listing every run read before it followed departures | ${ms(f.gcJob.listingAsBeforeMs)} | |`,
    '',
    END,
  );
  return l.join('\n');
}

/**
 * Puts the section in place of the one between the markers; the first time, at the end of `## Scale` (made at the
 * end of the document if missing). Everything else in the document stays as it is.
 */
export function replaceScaleRun(doc: string, section: string): string {
  return placeMarkedSection(doc, { begin: BEGIN, end: END }, '## Scale', section, 'end');
}
