import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { deleteNetns, ensureNetns, netnsName, newRunId, pidsInNetns, run, waitFor } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import type { FailoverBackend } from '../model/failover-backend.js';
import { armFault, injectFault } from './inject.js';

/**
 * A link-down or partition trial arms its command in every gateway before the traffic starts, so the fault's moment
 * is a pipe write even when arming (a fork and an exec into the namespace at normal priority) takes seconds under
 * load. The runner hands the armed command of the gateway it hits to injectFault and ends the others.
 */
describeRoot('armFault (root)', () => {
  const runId = newRunId();
  const ns: Record<string, string> = { g1: netnsName(runId, 'g1'), g2: netnsName(runId, 'g2') };
  const lab = {
    runId,
    netns: (g: string) => ns[g]!,
    exec: (g: string, argv: string[], o: { allowFailure?: boolean } = {}) => run(argv, { netns: ns[g], ...o }),
    topology: { hosts: [] },
  };
  const backend = { lab, gatewayLanDev: 'lo' } as unknown as FailoverBackend;
  const loUp = async (g: string): Promise<boolean> => (await run(['ip', '-o', 'link', 'show', 'lo'], { netns: ns[g] })).stdout.includes(',UP');
  const argv = (pid: number): string => (existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim() : '');

  beforeAll(async () => {
    for (const n of Object.values(ns)) {
      await ensureNetns(n);
      await run(['ip', 'link', 'set', 'lo', 'up'], { netns: n });
    }
  });
  afterAll(async () => {
    for (const n of Object.values(ns)) await deleteNetns(n);
  });

  it('arms link-down in every gateway ahead; the one hit fires at once, the others end', async () => {
    const armed = await armFault(backend, 'link-down', ['g1', 'g2']);
    const g1 = armed.take('g1')!;
    const g2 = armed.take('g2')!;
    expect(argv(g1.pid)).toBe('ip -batch -');
    expect(argv(g2.pid)).toBe('ip -batch -');
    expect(armed.take('g1')).toBeUndefined(); // handed over once

    const again = await armFault(backend, 'link-down', ['g1', 'g2']);
    g1.abort();
    g2.abort();
    const hit = await injectFault(backend, 'link-down', 'g1', again);
    again.abortAll();
    expect(await loUp('g1')).toBe(false);
    expect(await loUp('g2')).toBe(true);
    await hit.restore();
    expect(await loUp('g1')).toBe(true);
  });

  it('ends every armed command when the trial does not fire (abortAll)', async () => {
    const waiting = async (): Promise<number[]> => (await Promise.all(Object.values(ns).map((n) => pidsInNetns(n)))).flat().filter((pid) => argv(pid) === 'nft -f -');
    const armed = await armFault(backend, 'partition', ['g1', 'g2']);
    expect(await waiting()).toHaveLength(2);
    armed.abortAll();
    expect(armed.take('g1')).toBeUndefined();
    await waitFor('armed commands gone', async () => (await waiting()).length === 0, 5000, 20);
  });

  it('arms nothing for faults that need no command', async () => {
    const armed = await armFault(backend, 'gateway-sigkill', ['g1', 'g2']);
    expect(armed.take('g1')).toBeUndefined();
    armed.abortAll();
  });
});
