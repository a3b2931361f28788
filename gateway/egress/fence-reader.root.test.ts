import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { deleteNetns, ensureNetns, netnsName, newRunId, run } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { eipFenceLive } from './eip-fence.js';
import { FenceSetReader, gatewayFenceSet } from './fence-reader.js';

/** The one fence reader against a real kernel set shaped like the gateway agent's (table `strait-gw-<run>`). */
describeRoot('fence reader (root)', () => {
  const runId = newRunId();
  const ns = netnsName(runId, 'fence');
  const table = `strait-gw-${runId}`;
  const nft = (input: string): Promise<unknown> => run(['nft', '-f', '-'], { netns: ns, input });

  beforeAll(async () => {
    await ensureNetns(ns);
  });
  afterAll(async () => {
    await deleteNetns(ns);
  });

  it('reads nothing (not an error) before the agent made its table', async () => {
    expect(await eipFenceLive(runId, ns)).toEqual([]);
    expect(await FenceSetReader.once(ns, gatewayFenceSet(runId))).toBeNull();
  });

  it('reads the live IPv4 and IPv6 elements, with their remaining time; a timed-out element is gone', async () => {
    await nft(`table inet ${table} {\n set live4 { type ipv4_addr; flags timeout; }\n set live6 { type ipv6_addr; flags timeout; }\n}\n`);
    await nft(`add element inet ${table} live4 { 172.31.0.201 timeout 60s, 172.31.0.200 timeout 60s, 172.31.0.202 timeout 1ms }\nadd element inet ${table} live6 { fd00::5 timeout 60s }\n`);
    await new Promise((r) => setTimeout(r, 50));
    expect(await eipFenceLive(runId, ns)).toEqual(['172.31.0.200', '172.31.0.201', 'fd00::5']);
    const look = await FenceSetReader.once(ns, gatewayFenceSet(runId));
    expect(look?.elements.map((e) => e.ip).sort()).toEqual(['172.31.0.200', '172.31.0.201']);
    for (const e of look?.elements ?? []) expect(e.expiresMs).toBeGreaterThan(50_000);
    expect(look!.after).toBeGreaterThanOrEqual(look!.before);
  });

  it('keeps one process across looks, and starts a fresh one after a failed look', async () => {
    const reader = new FenceSetReader(ns, gatewayFenceSet(runId), 10_000);
    try {
      expect((await reader.look())?.elements).toHaveLength(2);
      const pid = reader.pid;
      expect((await reader.look(gatewayFenceSet(runId, 6)))?.elements).toEqual([{ ip: 'fd00::5', expiresMs: expect.any(Number) }]);
      expect(reader.pid).toBe(pid);
      expect(await reader.look(`inet ${table} nosuchset`)).toBeNull();
      expect(reader.pid).toBeUndefined();
      expect((await reader.look())?.elements).toHaveLength(2);
    } finally {
      reader.close();
    }
  });
});
