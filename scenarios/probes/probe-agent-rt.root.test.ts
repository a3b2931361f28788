import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { run } from '../../host/index.js';
import { probeAgentPath } from './traffic.js';

// The probes raise themselves to SCHED_RR once set up (`--rt`), not at exec: see announce() in probe-agent.mjs.
describe('probe-agent --rt', () => {
  it('is SCHED_RR at the given priority by the time it says it is listening', async () => {
    const child = spawn(process.execPath, [probeAgentPath(), 'udp-echo', '--bind', '127.0.0.1:0', '--rt', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (/listening/.test(out)) resolve();
        });
        child.once('exit', (code) => reject(new Error(`probe-agent exited (${code})`)));
      });
      const r = await run(['chrt', '--pid', String(child.pid)]);
      expect(r.stdout).toMatch(/scheduling policy: SCHED_RR/);
      expect(r.stdout).toMatch(/scheduling priority: 20/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('stays at normal scheduling without --rt', async () => {
    const child = spawn(process.execPath, [probeAgentPath(), 'udp-echo', '--bind', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => /listening/.test(d.toString()) && resolve()));
      expect((await run(['chrt', '--pid', String(child.pid)])).stdout).toMatch(/SCHED_OTHER/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
