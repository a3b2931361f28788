import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { deleteNetns, ensureNetns, netnsName, newRunId, run } from '../host/index.js';
import { describeRoot } from '../testing/index.js';
import { NftSession } from './nft-session.js';

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
});
