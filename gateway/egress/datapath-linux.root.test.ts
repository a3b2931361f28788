import { deleteNetns, ensureNetns, netnsName, newRunId, sh, sleep } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { datapathConformance } from './datapath.conformance.js';
import { LinuxGatewayEgress } from './gateway-egress-linux.js';
import { LinuxNodeEgress } from './node-egress-linux.js';
import { LinuxNodeMasquerade } from './node-masquerade-linux.js';
import { LinuxNodeRoutes } from './node-routes-linux.js';

describeRoot('linux datapath (root)', () => {
  datapathConformance('linux', async () => {
    const runId = newRunId();
    const ns = netnsName(runId, 'dp');
    await ensureNetns(ns);
    try {
      // One namespace plays node and gateway: a "LAN" link with the next hops on it and a "WAN" link for egress IPs.
      await sh(['ip', '-n', ns, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1']);
      await sh(['ip', '-n', ns, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan1']);
      for (const d of ['lan0', 'lan1', 'wan0', 'wan1']) await sh(['ip', '-n', ns, 'link', 'set', d, 'up']);
      await sh(['ip', '-n', ns, 'addr', 'add', '10.77.0.2/24', 'dev', 'lan0']);
      await sh(['ip', '-n', ns, 'addr', 'add', '172.77.0.11/24', 'dev', 'wan0']);
    } catch (e) {
      await deleteNetns(ns);
      throw e;
    }
    const o = { runId, netns: ns };
    return {
      routes: new LinuxNodeRoutes({ ...o, dev: 'lan0' }),
      nodeEgress: new LinuxNodeEgress({ ...o, dev: 'lan0' }),
      nodeMasquerade: new LinuxNodeMasquerade(o),
      gatewayEgress: new LinuxGatewayEgress({ ...o, name: 'gw1', wanDev: 'wan0', lanDev: 'lan0' }),
      sleep,
      now: () => performance.now(),
      teardown: () => deleteNetns(ns),
    };
  });
});
