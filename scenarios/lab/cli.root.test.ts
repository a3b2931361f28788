import { afterAll, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { newRunId, run } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { labDown } from './lab.js';
import { findLeftovers } from './leftovers.js';
import { readLabState } from './state.js';

// `strait lab up/status/down` as a user runs them (the built CLI; `npm test` builds it first via pretest).
const strait = fileURLToPath(new URL('../../bin/strait', import.meta.url));

describeRoot('strait lab (CLI)', () => {
  const runId = newRunId();

  afterAll(async () => {
    if (readLabState(runId)) await labDown(runId).catch(() => undefined);
  }, 60_000);

  it('lab up --json prints the hosts, status lists the run, down removes everything', async () => {
    const up = await run([strait, 'lab', 'up', '--topology', 'egress', '--run-id', runId, '--json'], { timeoutMs: 120_000 });
    const out = JSON.parse(up.stdout) as { runId: string; hosts: Record<string, { netns: string; addresses: string[]; role: string; cluster?: string }> };
    expect(out.runId).toBe(runId);
    expect(out.hosts.ext).toEqual({ netns: `st-${runId}-ext`, addresses: ['172.31.0.100'], role: 'external' });
    expect(out.hosts['c1-gw2']).toMatchObject({ role: 'gateway', cluster: 'c1', addresses: ['192.168.1.12', '172.31.0.12', '10.11.3.1'] });
    // Step output (what was created, how long it took) goes to stderr.
    expect(up.stderr).toMatch(/namespaces\s+8\s+\d+ ms/);
    expect(up.stderr).toMatch(/ready in \d+ ms/);

    const status = await run([strait, 'lab', 'status', '--json'], { timeoutMs: 60_000 });
    const labs = JSON.parse(status.stdout) as { runId: string; status: string; topology?: string }[];
    expect(labs.find((l) => l.runId === runId)).toMatchObject({ status: 'ready', topology: 'egress' });

    const again = await run([strait, 'lab', 'up', '--topology', 'egress', '--run-id', runId], { timeoutMs: 60_000, allowFailure: true });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('LAB_RUN_EXISTS');

    const down = await run([strait, 'lab', 'down', '--run-id', runId], { timeoutMs: 60_000 });
    expect(down.stdout).toContain(`removed ${runId}: 8 namespaces`);
    expect(await findLeftovers(runId)).toEqual({ namespaces: [], processes: [], sockets: [], runDir: false });
  }, 180_000);

  it('rejects an unknown topology and an unknown tunnel type without creating anything', async () => {
    const id = newRunId();
    const a = await run([strait, 'lab', 'up', '--topology', 'nope', '--run-id', id], { timeoutMs: 60_000, allowFailure: true });
    expect(a.stderr).toContain('LAB_TOPOLOGY_NOT_FOUND');
    const b = await run([strait, 'lab', 'up', '--topology', 'two-clusters', '--tunnel', 'gre', '--run-id', id], { timeoutMs: 60_000, allowFailure: true });
    expect(b.stderr).toContain('INVALID_ARGUMENT');
    expect(await findLeftovers(id)).toEqual({ namespaces: [], processes: [], sockets: [], runDir: false });
  }, 120_000);
});
