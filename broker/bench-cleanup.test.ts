import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { BenchCleanup } from './bench-cleanup.js';

// bench:broker stops what it started on every way out (a failed run used to leave its broker processes running).

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleeper = (): number => {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  return c.pid!;
};

describe('bench clean-up', () => {
  it('a throw: every process registered is stopped, last first, even when a step fails', async () => {
    const cleanup = new BenchCleanup();
    const order: string[] = [];
    const a = sleeper();
    const b = sleeper();
    cleanup.addPid('a', a);
    cleanup.add('a failing step', () => {
      order.push('failing');
      throw new Error('boom');
    });
    cleanup.add('b', async () => {
      order.push('b');
      await cleanup.done(cleanup.addPid('b', b));
    });
    await expect(
      (async () => {
        try {
          throw new Error('the ceiling phase failed');
        } finally {
          await cleanup.run();
        }
      })(),
    ).rejects.toThrow('the ceiling phase failed');
    expect(order).toEqual(['b', 'failing']);
    expect([alive(a), alive(b)]).toEqual([false, false]);
    await cleanup.run(); // once: nothing left, nothing run again
    expect(order).toEqual(['b', 'failing']);
  });

  it('SIGTERM: stops what was started, then exits 143', async () => {
    const cleanup = new BenchCleanup();
    const pid = sleeper();
    cleanup.addPid('sleeper', pid);
    const exited = new Promise<number>((resolve) => {
      const uninstall = cleanup.onSignals((code) => {
        uninstall();
        resolve(code);
      });
    });
    process.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(143);
    expect(alive(pid)).toBe(false);
  });
});
