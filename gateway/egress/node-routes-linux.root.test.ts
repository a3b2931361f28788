import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { deleteNetns, ensureNetns, netnsName, newRunId, sh } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { LinuxNodeRoutes } from './node-routes-linux.js';

// A node agent restarted after its remote CIDRs changed: the new process must remove the routes the old one installed
// (it knows them from the kernel, not from memory) and leave routes that are not its own alone.
describeRoot('LinuxNodeRoutes after a restart (root)', () => {
  const runId = newRunId();
  const ns = netnsName(runId, 'nr');
  const o = { runId, netns: ns, dev: 'lan0' };
  const [a, b] = ['10.78.0.11', '10.78.0.12'];
  const routes = async (): Promise<string[]> =>
    (JSON.parse(await sh(['ip', '-j', '-n', ns, 'route', 'show'])) as { dst: string }[]).map((r) => r.dst).filter((d) => d.startsWith('10.2')).sort();

  beforeAll(async () => {
    await ensureNetns(ns);
    await sh(['ip', '-n', ns, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1']);
    for (const d of ['lan0', 'lan1']) await sh(['ip', '-n', ns, 'link', 'set', d, 'up']);
    await sh(['ip', '-n', ns, 'addr', 'add', '10.78.0.2/24', 'dev', 'lan0']);
    // Somebody else's route: never ours to remove.
    await sh(['ip', '-n', ns, 'route', 'add', '10.29.0.0/16', 'via', b, 'dev', 'lan0']);
  });
  afterAll(() => deleteNetns(ns));

  it('a new instance sees and removes the routes an earlier one installed', async () => {
    const first = new LinuxNodeRoutes(o);
    await first.ensure({ remoteCidrs: ['10.20.0.0/16', '10.21.0.0/16', '10.22.1.1/32'], nexthops: [a], mode: 'active-standby' });
    expect(await routes()).toEqual(['10.20.0.0/16', '10.21.0.0/16', '10.22.1.1', '10.29.0.0/16']);

    const restarted = new LinuxNodeRoutes(o);
    expect(await restarted.current()).toEqual(new Map([['10.20.0.0/16', [a]], ['10.21.0.0/16', [a]], ['10.22.1.1', [a]]]));
    await restarted.ensure({ remoteCidrs: ['10.20.0.0/16', '10.22.1.1/32'], nexthops: [b], mode: 'active-standby' });
    expect(await routes()).toEqual(['10.20.0.0/16', '10.22.1.1', '10.29.0.0/16']);
    expect(await restarted.current()).toEqual(new Map([['10.20.0.0/16', [b]], ['10.22.1.1', [b]]]));

    await new LinuxNodeRoutes(o).clear();
    expect(await routes()).toEqual(['10.29.0.0/16']);
  });
});
