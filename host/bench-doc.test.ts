import { describe, expect, it } from '@jest/globals';
import { benchMarkers, benchRunHeader, replaceMarkedSection } from './bench-doc.js';

describe('a bench writes its own section of docs/benchmarks.md', () => {
  const doc = '# Benchmarks\n\n## IPAM / CNI\n\nCommand: npm run bench:ipam.\n\nOlder text.\n\n## Broker\n\nBroker text.\n';
  it('the first run goes after the first paragraph of its heading; the rest of the document stays', () => {
    const out = replaceMarkedSection(doc, 'bench:ipam', '## IPAM / CNI', 'run 1');
    const { begin, end } = benchMarkers('bench:ipam');
    expect(out).toBe(`# Benchmarks\n\n## IPAM / CNI\n\nCommand: npm run bench:ipam.\n\n${begin}\nrun 1\n${end}\n\nOlder text.\n\n## Broker\n\nBroker text.\n`);
  });
  it('a later run replaces only its own section', () => {
    const once = replaceMarkedSection(doc, 'bench:ipam', '## IPAM / CNI', 'run 1');
    const twice = replaceMarkedSection(once, 'bench:ipam', '## IPAM / CNI', 'run 2');
    expect(twice).toBe(once.replace('run 1', 'run 2'));
    expect(replaceMarkedSection(twice, 'bench:x', '## Broker', 'x')).toContain('Broker text.');
  });
  it('a missing heading is added at the end', () => {
    expect(replaceMarkedSection('# B\n', 'bench:y', '## Y', 'y')).toMatch(/^# B\n\n## Y\n\n<!-- bench:y: latest run, written by the bench itself -->\ny\n<!-- bench:y: end of latest run -->\n$/);
  });
  it('the header names the commit, a dirty tree, the load and the command', () => {
    expect(benchRunHeader({ commit: 'abc1234', dirty: true, date: '2026-12-06T01:02:03.000Z', load: 1.5, command: 'npm run bench:ipam' })).toBe('Latest run: `abc1234` (with uncommitted changes), 2026-12-06 01:02 UTC, 1-minute load 1.5 at the end, `npm run bench:ipam`:');
  });
});
