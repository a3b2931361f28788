import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteNetns, ensureNetns, netnsName, newRunId, run } from '../host/index.js';
import { straitMainPath } from '../gateway/index.js';
import { describeRoot } from '../testing/index.js';
import { linkExists, ownLinkNames, procRoutes, routesOnDev, syncViaRoutes } from './datapath.js';

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

it('reads the main table from /proc/net/route as `ip -j -4 route` shows it', async () => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'wgx\t0000150A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    'br0\t0201A8C0\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
  ].join('\n');
  expect(procRoutes(text)).toEqual([
    { dst: '0.0.0.0/0', dev: 'eth0', gateway: '192.0.2.1' },
    { dst: '10.21.0.0/16', dev: 'wgx' },
    { dst: '192.168.1.2/32', dev: 'br0' },
  ]);
  // And the host's own table, read both ways.
  const viaIp = (JSON.parse((await run(['ip', '-j', '-4', 'route', 'show', 'table', 'main'])).stdout || '[]') as { dst: string; dev: string; gateway?: string }[])
    .map((r) => ({ dst: r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`, dev: r.dev, ...(r.gateway ? { gateway: r.gateway } : {}) }));
  const key = (r: { dst: string; dev?: string; gateway?: string }): string => `${r.dst} ${r.dev ?? ''} ${r.gateway ?? ''}`;
  expect(procRoutes(readFileSync('/proc/self/net/route', 'utf8')).map(key).sort()).toEqual(viaIp.map(key).sort());
});

/**
 * The agents run inside their namespace (`ip netns exec`) and ask about their own links without naming a namespace:
 * that answer comes from /proc/self/net/dev, without forking `ip`. It must agree with `ip -n` for a link that is down
 * and has no address (a wireguard-go device before its first reconcile), and for one that does not exist.
 */
describeRoot('linkExists in the own namespace (root)', () => {
  const ns = netnsName(newRunId(), 'dp');
  const dev = 'stdpbr0';
  const routed = 'stdpbr1';

  beforeAll(async () => {
    await ensureNetns(ns);
    await run(['ip', 'link', 'add', dev, 'type', 'bridge'], { netns: ns });
    // A second bridge, up and addressed, carrying routes (a tunnel device after its reconcile).
    await run(['ip', '-batch', '-'], { netns: ns, input: `link add ${routed} type bridge\nlink set ${routed} up\naddr add 10.77.0.1/24 dev ${routed}\nroute add 10.78.0.0/16 via 10.77.0.2 dev ${routed} onlink\nroute add 10.79.1.0/24 dev ${routed}\n` });
  });
  afterAll(async () => {
    await deleteNetns(ns);
  });

  it('answers links and routes from inside the namespace as `ip -n` does from outside', async () => {
    const module = join(straitMainPath(), '..', '..', 'tunnel', 'datapath.js');
    const script = `const m = await import(${JSON.stringify(module)}); console.log(JSON.stringify([await m.linkExists(undefined, ${JSON.stringify(dev)}), await m.linkExists(undefined, 'nosuchlink0'), await m.linkExists(undefined, 'lo'), await m.routesOnDev(undefined, ${JSON.stringify(routed)})]));`;
    // No `ip` on its PATH: the answer must not come from a fork.
    const inside = await run(['ip', 'netns', 'exec', ns, 'env', 'PATH=/nonexistent', process.execPath, '--input-type=module', '-e', script]);
    const [a, b, c, routes] = JSON.parse(inside.stdout.trim()) as [boolean, boolean, boolean, { dst: string; gateway?: string }[]];
    expect([a, b, c]).toEqual([true, false, true]);
    expect([await linkExists(ns, dev), await linkExists(ns, 'nosuchlink0'), await linkExists(ns, 'lo')]).toEqual([true, false, true]);
    const sorted = (rs: { dst: string; gateway?: string }[]): string[] => rs.map((r) => `${r.dst} ${r.gateway ?? ''}`).sort();
    expect(sorted(routes)).toEqual(['10.77.0.0/24 ', '10.78.0.0/16 10.77.0.2', '10.79.1.0/24 ']);
    expect(sorted(routes)).toEqual(sorted(await routesOnDev(ns, routed)));
    // The test process itself is in the host namespace, where the dummy link is not.
    expect(await linkExists(undefined, dev)).toBe(false);
  });
});

describeRoot('syncViaRoutes (root)', () => {
  const ns = netnsName(newRunId(), 'dr');
  const dev = 'stdrbr0';

  beforeAll(async () => {
    await ensureNetns(ns);
    const routes = ['10.78.0.0/16 via 10.77.0.2', '10.80.0.0/16 via 10.77.0.2', '10.82.0.0/16 via 10.77.0.2'].map((r) => `route add ${r} dev ${dev} onlink`);
    await run(['ip', '-batch', '-'], { netns: ns, input: [`link add ${dev} type bridge`, `link set ${dev} up`, `addr add 10.77.0.1/24 dev ${dev}`, `route add 10.79.1.0/24 dev ${dev}`, ...routes, ''].join('\n') });
  });
  afterAll(async () => {
    await deleteNetns(ns);
  });

  it('moves, adds and removes next-hop routes; keeps the wanted ones and the device routes nobody asked for', async () => {
    const want = new Map([
      ['10.78.0.0/16', '10.77.0.3'], // moved to another peer
      ['10.81.0.0/16', '10.77.0.4'], // new
      ['10.82.0.0/16', '10.77.0.2'], // as it is
    ]);
    await syncViaRoutes(ns, dev, want);
    const sorted = (await routesOnDev(ns, dev)).map((r) => `${r.dst} ${r.gateway ?? ''}`).sort();
    expect(sorted).toEqual(['10.77.0.0/24 ', '10.78.0.0/16 10.77.0.3', '10.79.1.0/24 ', '10.81.0.0/16 10.77.0.4', '10.82.0.0/16 10.77.0.2']);
    // Again: nothing to do, nothing changes.
    await syncViaRoutes(ns, dev, want);
    expect((await routesOnDev(ns, dev)).map((r) => `${r.dst} ${r.gateway ?? ''}`).sort()).toEqual(sorted);
    // Nothing wanted: every next-hop route goes, the device's own routes stay.
    await syncViaRoutes(ns, dev, new Map());
    expect((await routesOnDev(ns, dev)).map((r) => `${r.dst} ${r.gateway ?? ''}`).sort()).toEqual(['10.77.0.0/24 ', '10.79.1.0/24 ']);
  });
});
