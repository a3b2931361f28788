import { expect, it } from '@jest/globals';
import { describeRoot, waitFor } from '../testing/index.js';
import { startDaemon, stopPid } from './daemon.js';
import { run, sh } from './exec.js';
import { deleteNetns, ensureNetns, openNetnsRef, pidsInNetnsRef } from './netns.js';
import { ifName, netnsName, newRunId } from './run-id.js';

// Real namespaces, each named with this run's id; removed in `finally` whatever happens.
describeRoot('NetnsRef (root)', () => {
  it('keeps a deleted namespace reachable (its processes, its links) until closed; then the kernel tears it down', async () => {
    const runId = newRunId();
    const [dead, peer] = [netnsName(runId, 'dead'), netnsName(runId, 'peer')];
    const [a, bEnd] = [ifName('sa', runId), ifName('sb', runId)];
    let pid: number | undefined;
    try {
      await ensureNetns(dead);
      await ensureNetns(peer);
      await sh(['ip', 'link', 'add', a, 'netns', dead, 'type', 'veth', 'peer', 'name', bEnd, 'netns', peer]);
      pid = startDaemon(['sleep', '300'], { netns: dead, logFile: '/dev/null' }).pid;
      const ref = openNetnsRef(dead);
      expect(ref).toBeDefined();
      await waitFor('the sleep in the namespace', () => pidsInNetnsRef(ref!).includes(pid!), 5000);
      await deleteNetns(dead);
      // Gone by name, still there through the reference: its process and its link.
      expect((await run(['ip', 'netns', 'list'])).stdout).not.toContain(dead);
      expect(pidsInNetnsRef(ref!)).toContain(pid);
      const links = await run([...ref!.enter, 'ip', '-j', 'link', 'show', 'dev', a]);
      expect(JSON.parse(links.stdout)).toHaveLength(1);
      await stopPid(pid, 1000);
      pid = undefined;
      expect(pidsInNetnsRef(ref!)).toEqual([]);
      // The veth's far end lives as long as the namespace does.
      expect((await run(['ip', 'link', 'show', 'dev', bEnd], { netns: peer, allowFailure: true })).code).toBe(0);
      ref!.close();
      ref!.close(); // once only
      await waitFor('the namespace torn down (its veth end in the peer gone)', async () => (await run(['ip', 'link', 'show', 'dev', bEnd], { netns: peer, allowFailure: true })).code !== 0, 10_000);
    } finally {
      if (pid) await stopPid(pid, 1000);
      await deleteNetns(dead);
      await deleteNetns(peer);
    }
  });

  it('answers undefined for a namespace that does not exist', () => {
    expect(openNetnsRef(netnsName(newRunId(), 'none'))).toBeUndefined();
  });
});
