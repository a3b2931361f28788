import { describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { run } from '../../host/index.js';
import { probeAgentPath } from './traffic.js';

/** A UDP echo server of probe-agent.mjs on loopback, once it says it is listening. */
async function listeningEcho(extra: readonly string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [probeAgentPath(), 'udp-echo', '--bind', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/listening/.test(out)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`probe-agent exited (${code})`)));
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return child;
}

// The probes raise themselves to SCHED_RR once set up (`--rt`), not at exec: see announce() in probe-agent.mjs.
describe('probe-agent --rt', () => {
  it('is SCHED_RR at the given priority by the time it says it is listening', async () => {
    const child = await listeningEcho(['--rt', '20']);
    try {
      const r = await run(['chrt', '--pid', String(child.pid)]);
      expect(r.stdout).toMatch(/scheduling policy: SCHED_RR/);
      expect(r.stdout).toMatch(/scheduling priority: 20/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('stays at normal scheduling without --rt', async () => {
    const child = await listeningEcho([]);
    try {
      expect((await run(['chrt', '--pid', String(child.pid)])).stdout).toMatch(/SCHED_OTHER/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
