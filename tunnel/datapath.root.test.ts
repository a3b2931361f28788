import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteNetns, ensureNetns, netnsName, newRunId, run } from '../host/index.js';
import { straitMainPath } from '../gateway/index.js';
import { describeRoot } from '../testing/index.js';
import { linkExists, ownLinkNames } from './datapath.js';

it('reads link names from /proc/net/dev text', () => {
  const text = readFileSync('/proc/self/net/dev', 'utf8');
  expect(ownLinkNames(text).has('lo')).toBe(true);
  const sample = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
    'wgabc123d4e5:123 4 0 0 0 0 0 0 5 6 0 0 0 0 0 0',
    '',
  ].join('\n');
  expect([...ownLinkNames(sample)]).toEqual(['lo', 'wgabc123d4e5']);
});

/**
 * The agents run inside their namespace (`ip netns exec`) and ask about their own links without naming a namespace:
 * that answer comes from /proc/self/net/dev, without forking `ip`. It must agree with `ip -n` for a link that is down
 * and has no address (a wireguard-go device before its first reconcile), and for one that does not exist.
 */
describeRoot('linkExists in the own namespace (root)', () => {
  const ns = netnsName(newRunId(), 'dp');
  const dev = 'stdpbr0';

  beforeAll(async () => {
    await ensureNetns(ns);
    await run(['ip', 'link', 'add', dev, 'type', 'bridge'], { netns: ns });
  });
  afterAll(async () => {
    await deleteNetns(ns);
  });

  it('answers from inside the namespace as `ip -n` does from outside', async () => {
    const module = join(straitMainPath(), '..', '..', 'tunnel', 'datapath.js');
    const script = `const m = await import(${JSON.stringify(module)}); console.log(JSON.stringify([await m.linkExists(undefined, ${JSON.stringify(dev)}), await m.linkExists(undefined, 'nosuchlink0'), await m.linkExists(undefined, 'lo')]));`;
    // No `ip` on its PATH: the answer must not come from a fork.
    const inside = await run(['ip', 'netns', 'exec', ns, 'env', 'PATH=/nonexistent', process.execPath, '--input-type=module', '-e', script]);
    expect(JSON.parse(inside.stdout.trim())).toEqual([true, false, true]);
    expect([await linkExists(ns, dev), await linkExists(ns, 'nosuchlink0'), await linkExists(ns, 'lo')]).toEqual([true, false, true]);
    // The test process itself is in the host namespace, where the dummy link is not.
    expect(await linkExists(undefined, dev)).toBe(false);
  });
});
