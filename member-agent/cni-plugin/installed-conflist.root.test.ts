import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { newRunId, run, sh, stopPid, type DaemonHandle } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { CniLab, firstAddress, pluginNetconf, REFERENCE_CNI_DIR } from '../../scenarios/index.js';
import { startAgentProcess } from '../node-agent/agent-process.js';
import { straitConflist } from './cni-install.js';

/**
 * The conflist `strait install-cni` writes, run plugin by plugin as containerd would (the reference plugins of
 * /usr/lib/cni in a "node" namespace, strait-ipam against a node agent process), for pods of two pools on one node.
 * The pools name no gateway, as broker pools do. With the `bridge` plugin this conflist used to carry, the first pod
 * of the node's second pool failed: the bridge refuses a second IPv4 gateway address (issue #13, the --kube lab).
 * Then, under `ptp`, those pods got no default route at all (their gateway was the link-local `podGateway`, which
 * `ptp` makes reachable only after it has added the result's routes): they reached their own pool and nothing else.
 */
const runId = newRunId();
const lab = new CniLab(runId);
let agent: DaemonHandle | undefined;
let socketPath = '';

const POOLS = {
  pools: [
    { name: 'a', subnet: '10.78.0.0/24', ips: ['10.78.0.10-10.78.0.29'], default: true },
    { name: 'b', subnet: '10.78.1.0/24', ips: ['10.78.1.10-10.78.1.29'] },
  ],
};

const BEYOND = '192.0.2.77';

type Conflist = { cniVersion: string; name: string; plugins: Record<string, unknown>[] };

/** The installed conflist, with the pod's pool named in the IPAM section (what an annotation does in a cluster). */
function installed(pool: string): Conflist {
  const list = straitConflist({ socketPath }) as Conflist;
  const [main, ...rest] = list.plugins;
  const ipam = { ...(main!.ipam as Record<string, unknown>), ippools: { ipv4: [pool] } };
  return { ...list, plugins: [{ ...main!, ipam }, ...rest] };
}

async function chain(command: 'ADD' | 'DEL', list: Conflist, pod: string, ns: string, prev?: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const plugins = command === 'ADD' ? list.plugins : [...list.plugins].reverse();
  let result = prev;
  for (const p of plugins) {
    const conf = pluginNetconf(list, p, command === 'ADD' ? result : prev);
    const r = await lab.call(command, conf, { containerId: `ctr-${pod}`, podNetns: ns, cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=${pod};K8S_POD_UID=uid-${runId}-${pod}` }, join(REFERENCE_CNI_DIR, String(p.type)));
    expect([pod, command, String(p.type), r.code, r.code === 0 ? '' : r.stdout + r.stderr]).toEqual([pod, command, String(p.type), 0, '']);
    if (command === 'ADD' && r.json) result = r.json;
  }
  return result;
}

describeRoot('the installed conflist (strait install-cni) on one node', () => {
  beforeAll(async () => {
    await lab.setup();
    // An address outside both pools, on the node: what a pod reaches only through its default route.
    await sh(['ip', '-n', lab.nodeNs, 'addr', 'add', `${BEYOND}/32`, 'dev', 'lo']);
    socketPath = join(lab.dir, 'agent.sock');
    const stateDir = join(lab.dir, 'state');
    mkdirSync(stateDir, { recursive: true });
    agent = await startAgentProcess({ configFile: lab.writeFile('pools.yaml', JSON.stringify(POOLS)), socketPath, stateDir, logFile: join(lab.dir, 'agent.log') });
  }, 120_000);

  afterAll(async () => {
    if (agent) await stopPid(agent.pid);
    await lab.destroy();
  }, 120_000);

  it('serves pods of two pools side by side: each configured in its namespace and reachable from the node; DEL cleans up', async () => {
    const pods: { name: string; pool: string; ns: string; ip: string; result?: Record<string, unknown> }[] = [];
    for (const [name, pool] of [['a1', 'a'], ['b1', 'b'], ['a2', 'a'], ['b2', 'b']] as const) {
      const ns = await lab.createPod(name);
      const result = await chain('ADD', installed(pool), name, ns);
      pods.push({ name, pool, ns, ip: firstAddress(result) ?? '', ...(result ? { result } : {}) });
    }
    expect(pods.map((p) => p.ip.split('.').slice(0, 3).join('.'))).toEqual(['10.78.0', '10.78.1', '10.78.0', '10.78.1']);
    for (const p of pods) {
      expect(await sh(['ip', '-n', p.ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain(`inet ${p.ip}/24`);
      // A pool without a gateway: its subnet's first host address, on the host side of the pod's veth.
      const gw = `${p.ip.split('.').slice(0, 3).join('.')}.1`;
      expect(await sh(['ip', '-n', p.ns, 'route', 'show'])).toContain(`default via ${gw} dev eth0`);
      const ping = await run(['ip', 'netns', 'exec', lab.nodeNs, 'ping', '-c', '1', '-W', '2', p.ip], { allowFailure: true });
      expect([p.name, ping.code]).toEqual([p.name, 0]);
      const out = await run(['ip', 'netns', 'exec', p.ns, 'ping', '-c', '1', '-W', '2', BEYOND], { allowFailure: true });
      expect([p.name, 'beyond its pool', out.code]).toEqual([p.name, 'beyond its pool', 0]);
    }
    for (const p of pods) await chain('DEL', installed(p.pool), p.name, p.ns, p.result);
    const links = await sh(['ip', '-n', lab.nodeNs, '-o', 'link', 'show', 'type', 'veth']);
    expect(links.trim()).toBe('');
  }, 120_000);
});
