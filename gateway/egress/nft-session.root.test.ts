import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { deleteNetns, ensureNetns, netnsName, newRunId, run } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { waitFor } from '../../testing/index.js';
import { NftSession, nftInteractive } from './nft-session.js';

/** Running, not a zombie waiting to be reaped by whoever adopted it. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describeRoot('nft session (root)', () => {
  const ns = netnsName(newRunId(), 'nft');
  const session = new NftSession({ netns: ns, timeoutMs: 10_000 });
  const elements = async (): Promise<string> => (await run(['nft', 'list', 'set', 'inet', 't', 'live4'], { netns: ns })).stdout;

  beforeAll(async () => {
    await ensureNetns(ns);
    await run(['nft', '-f', '-'], { netns: ns, input: 'table inet t {\n  set live4 { type ipv4_addr; flags timeout; }\n}\n' });
  });
  afterAll(async () => {
    session.close();
    await deleteNetns(ns);
  });

  it('runs each apply as one acknowledged transaction, in order', async () => {
    await Promise.all([
      session.apply(['add element inet t live4 { 10.0.0.1 timeout 10s }']),
      session.apply(['add element inet t live4 { 10.0.0.2 timeout 10s }', 'delete element inet t live4 { 10.0.0.1 }']),
    ]);
    const out = await elements();
    expect(out).toContain('10.0.0.2');
    expect(out).not.toContain('10.0.0.1 ');
  });

  it('rejects a failing transaction without applying any of it, and keeps working afterwards', async () => {
    await expect(session.apply(['add element inet t live4 { 10.0.0.3 timeout 10s }', 'delete element inet t live4 { 10.9.9.9 }'])).rejects.toThrow(/nft/);
    expect(await elements()).not.toContain('10.0.0.3');
    await session.apply(['add element inet t live4 { 10.0.0.4 timeout 10s }']);
    expect(await elements()).toContain('10.0.0.4');
  });

  it('element timeouts set through the session run out in the kernel', async () => {
    await session.apply(['add element inet t live4 { 10.0.0.5 timeout 200ms }']);
    expect(await elements()).toContain('10.0.0.5');
    await new Promise((r) => setTimeout(r, 700));
    expect(await elements()).not.toContain('10.0.0.5');
  });

  it('replaces its process after maxTransactions, losing no transaction', async () => {
    const short = new NftSession({ netns: ns, timeoutMs: 10_000, maxTransactions: 3 });
    const pids = new Set<number>();
    try {
      for (let i = 10; i < 20; i++) {
        await short.apply([`add element inet t live4 { 10.0.1.${i} timeout 10s }`]);
        if (short.pid) pids.add(short.pid);
      }
      const out = await elements();
      for (let i = 10; i < 20; i++) expect(out).toContain(`10.0.1.${i}`);
      // 10 transactions, a fresh process after every 3rd.
      expect(pids.size).toBeGreaterThanOrEqual(3);
    } finally {
      short.close();
    }
  });

  it('dies with the process that started it (no orphan left running after a SIGKILL)', async () => {
    const { argv, env } = nftInteractive(ns, ['-e']);
    // A parent that starts the session and reports its pid, then waits to be killed. The session's stdin comes from
    // a `sleep` that outlives the parent, so no end-of-file can end the session: only the death signal can.
    const script = [
      "const { spawn } = require('node:child_process');",
      "const s = spawn('sleep', ['30'], { stdio: ['ignore', 'pipe', 'ignore'] });",
      `const c = spawn(${JSON.stringify(argv[0])}, ${JSON.stringify(argv.slice(1))}, { stdio: [s.stdout, 'ignore', 'ignore'], env: { ...process.env, HOME: ${JSON.stringify(env.HOME)} } });`,
      "console.log(c.pid + ' ' + s.pid);",
      'setInterval(() => undefined, 1000);',
    ].join('\n');
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the parent to report the session pid', () => /\d+ \d+\n/.test(out), 10_000);
    const [pid, sleeper] = out.trim().split(' ').map(Number) as [number, number];
    // The session started (it waits on stdin) before the parent dies.
    await waitFor('the nft session to run', () => running(pid), 10_000);
    parent.kill('SIGKILL');
    try {
      await waitFor('the nft session to end with its parent', () => !running(pid), 5_000);
    } finally {
      process.kill(sleeper, 'SIGKILL');
    }
  });
});
