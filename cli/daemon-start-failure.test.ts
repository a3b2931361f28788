import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../host/index.js';

// Issue #10: the daemons exit non-zero with one clear line on a fatal start error and leave nothing running or
// half-made behind. The broker's own cases are in broker/daemon-lifecycle.test.ts; these are the agents', through the
// built CLI, because the exit code and the first line on stderr are what an operator (or a crash-looping pod) sees.
const MAIN = new URL('../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'strait-start-failure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function strait(args: string[]): Promise<{ code: number; first: string; stderr: string }> {
  const r = await run([process.execPath, MAIN, ...args], { allowFailure: true, timeoutMs: 60_000, env: { ...process.env, STRAIT_LOG_LEVEL: 'error' } });
  // Details of an error follow on indented lines; the first line alone must say what is wrong.
  return { code: r.code ?? -1, first: r.stderr.split('\n')[0] ?? '', stderr: r.stderr };
}

describe('agents that cannot start', () => {
  // Exit 2, as for a port the broker cannot listen on: the host is not fit to run it (exit 1 is for bad arguments).
  it('node agent: a --state-dir it cannot use is one catalog line, exit 2, no socket left', async () => {
    const pools = join(dir, 'pools.json');
    writeFileSync(pools, '{"pools":[{"name":"p1","subnet":"10.77.0.0/24","default":true}]}');
    const inTheWay = join(dir, 'not-a-dir');
    writeFileSync(inTheWay, '');
    const socket = join(dir, 'run', 'agent.sock');
    const r = await strait(['node-agent', '--standalone', '--config', pools, '--socket', socket, '--state-dir', inTheWay]);
    expect(r.code).toBe(2);
    expect(r.first).toBe(`error AGENT_STATE_DIR_UNUSABLE: cannot use --state-dir ${inTheWay}: a file that is not a directory is in the way`);
    expect(existsSync(socket)).toBe(false);
  });

  it('node agent: a missing pool config is one catalog line, exit 1, nothing created', async () => {
    const state = join(dir, 'state-unused');
    const r = await strait(['node-agent', '--standalone', '--config', join(dir, 'nope.json'), '--socket', join(dir, 'b.sock'), '--state-dir', state]);
    expect(r.code).toBe(1);
    expect(r.first).toMatch(/^error AGENT_CONFIG_INVALID: /);
    expect(existsSync(state)).toBe(false);
  });

  it('member agent: an unreadable kubeconfig is one catalog line, exit 1', async () => {
    const r = await strait(['member-agent', '--kubeconfig', join(dir, 'missing-kubeconfig')]);
    expect(r.code).toBe(1);
    expect(r.first).toBe(`error KUBECONFIG_INVALID: cannot read kubeconfig ${join(dir, 'missing-kubeconfig')}: no such file`);
  });

  it('gateway agent: a --name that is not a candidate is one catalog line, exit 1, before any store is dialled', async () => {
    const r = await strait(['gateway', '--cluster', 'c1', '--name', 'g9', '--lease-redis', join(dir, 'no-redis.sock'), '--candidate', 'g1=127.0.0.1@100', '--run-id', 'sfail']);
    expect(r.code).toBe(1);
    expect(r.first).toBe('error GATEWAY_INVALID_CONFIG: --name g9 is not among the --candidate entries');
    expect(r.stderr).not.toMatch(/ENOENT|lease store/);
    expect(readdirSync(dir).filter((f) => f.includes('sfail'))).toEqual([]);
  });
});
