import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';

/**
 * What every `npm run bench:*` writes beside its figures in docs/benchmarks.md: the section between its own two
 * markers, replaced whole on each run, so the document always shows the latest run of each bench with its commit
 * and the host load (figures without them cannot be compared). Pure apart from `benchRunMeta`.
 */
export interface BenchRunMeta {
  commit: string;
  dirty: boolean;
  date: string;
  /** 1-minute load average when the run ended, and the machine's CPU count. */
  load: number;
  command: string;
}

export function benchRunMeta(command: string, cwd = process.cwd()): BenchRunMeta {
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  return { commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown', dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '', date: new Date().toISOString(), load: +loadavg()[0]!.toFixed(2), command };
}

export const benchMarkers = (bench: string): { begin: string; end: string } => ({
  begin: `<!-- ${bench}: latest run, written by the bench itself -->`,
  end: `<!-- ${bench}: end of latest run -->`,
});

/**
 * Places a bench's section (its markers included) in the document: in place of the text between `begin` and `end`
 * when both are there; the first time, under `heading` — right after the heading's first paragraph (`after-intro`,
 * where the bench's command is described) or at the end of the heading's section (`end`) — or, without the
 * heading, at the end of the document under a new one. The one writer of every bench's doc section.
 */
export function placeMarkedSection(doc: string, m: { begin: string; end: string }, heading: string, section: string, firstTime: 'after-intro' | 'end' = 'after-intro'): string {
  const b = doc.indexOf(m.begin);
  const e = doc.indexOf(m.end);
  if (b >= 0 && e > b) return doc.slice(0, b) + section + doc.slice(e + m.end.length);
  const h = doc.indexOf(`\n${heading}\n`);
  if (h < 0) return `${doc.trimEnd()}\n\n${heading}\n\n${section}\n`;
  if (firstTime === 'end') {
    const next = doc.indexOf('\n## ', h + 1);
    if (next < 0) return `${doc.trimEnd()}\n\n${section}\n`;
    return `${doc.slice(0, next).trimEnd()}\n\n${section}\n${doc.slice(next)}`;
  }
  const para = doc.indexOf('\n\n', doc.indexOf('\n\n', h + 1) + 2);
  const at = para < 0 ? doc.length : para + 2;
  return `${doc.slice(0, at)}${section}\n\n${doc.slice(at)}`;
}

/**
 * `doc` with the bench's marked section replaced by `body` (markers kept); the first time, the section goes right
 * after the first paragraph under `heading` (or at the end, under a new heading).
 */
export function replaceMarkedSection(doc: string, bench: string, heading: string, body: string): string {
  const m = benchMarkers(bench);
  return placeMarkedSection(doc, m, heading, `${m.begin}\n${body.trim()}\n${m.end}`);
}

/**
 * A run as bench:broker and bench:scale show it: like BenchRunMeta, with the date as written, the CPU count and the
 * 1/5/15-minute load at the run's start and end.
 */
export interface LoadedRunMeta {
  commit: string;
  dirty: boolean;
  date: string;
  command: string;
  cpus: number;
  loadStart: string;
  loadEnd: string;
}

/** The line that opens such a run's section; `moves` says which figures move with the shared machine's load. */
export function loadedRunLine(m: LoadedRunMeta, moves: string): string {
  return `${m.date}, commit \`${m.commit.slice(0, 12)}\`${m.dirty ? ' with uncommitted changes' : ''}, \`${m.command}\`; ${m.cpus} CPUs, 1/5/15-minute load ${m.loadStart} at the start and ${m.loadEnd} at the end (the machine is shared with other work: ${moves}).`;
}

/** A count for a figure table: rounded, with thousands separators; '–' for none. */
export const count = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');

/** The line that opens a run's section: when, which commit, what load, which command. */
export function benchRunHeader(m: BenchRunMeta): string {
  return `Latest run: \`${m.commit}\`${m.dirty ? ' (with uncommitted changes)' : ''}, ${m.date.slice(0, 16).replace('T', ' ')} UTC, 1-minute load ${m.load} at the end, \`${m.command}\`:`;
}
