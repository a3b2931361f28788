import { it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { newRunId, sh, run, stopPid, type DaemonHandle } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { CniLab, bridgeNetconf, firstAddress, type CniCallResult } from '../../scenarios/index.js';
import { startAgentProcess } from './agent-process.js';

/**
 * strait-ipam through the real reference bridge plugin (/usr/lib/cni/bridge) in network namespaces, against a
 * node agent running as its own process (built dist/). Each test uses its own pool and bridge.
 */
const runId = newRunId();
const lab = new CniLab(runId);
let agent: DaemonHandle | undefined;
let socketPath = '';
let configFile = '';
let stateDir = '';
let logFile = '';

const POOLS = {
  pools: [
    { name: 'main', subnet: '10.77.0.0/24', ips: ['10.77.0.10-10.77.0.29'], gateway: '10.77.0.1', default: true },
    { name: 'tiny', subnet: '10.77.1.0/24', ips: ['10.77.1.10-10.77.1.12'], gateway: '10.77.1.1' },
    { name: 'burst', subnet: '10.77.2.0/24', ips: ['10.77.2.10-10.77.2.59'], gateway: '10.77.2.1' },
    { name: 'crash', subnet: '10.77.3.0/24', ips: ['10.77.3.10-10.77.3.109'], gateway: '10.77.3.1' },
  ],
};

const net = (bridge: string, ipam: Record<string, unknown> = {}): Record<string, unknown> =>
  bridgeNetconf({ name: `net-${bridge}`, bridge, ipam: { type: 'strait-ipam', socket: socketPath, ...ipam } });
const args = (pod: string): string => `IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=${pod};K8S_POD_UID=uid-${runId}-${pod}`;
const cniError = (r: CniCallResult): { code?: number; msg?: string } => (r.json ?? {}) as { code?: number; msg?: string };

async function startAgent(): Promise<void> {
  agent = await startAgentProcess({ configFile, socketPath, stateDir, logFile });
}

async function addPod(name: string, netconf: Record<string, unknown>): Promise<{ ns: string; r: CniCallResult }> {
  const ns = await lab.createPod(name);
  const r = await lab.call('ADD', netconf, { containerId: `ctr-${name}`, podNetns: ns, cniArgs: args(name) });
  return { ns, r };
}

describeRoot('strait-ipam through the reference bridge plugin', () => {
  beforeAll(async () => {
    await lab.setup();
    socketPath = join(lab.dir, 'agent.sock');
    stateDir = join(lab.dir, 'state');
    logFile = join(lab.dir, 'agent.log');
    mkdirSync(stateDir, { recursive: true });
    configFile = lab.writeFile('pools.yaml', JSON.stringify(POOLS));
    await startAgent();
  }, 120_000);

  afterAll(async () => {
    if (agent) await stopPid(agent.pid);
    await lab.destroy();
  }, 120_000);

  it('gives 20 pods unique addresses, configured in their namespaces with a default route; CHECK passes; repeated ADD is stable; DEL frees', async () => {
    const conf = net('br-main');
    const pods: { name: string; ns: string; ip: string; result: Record<string, unknown> }[] = [];
    for (let i = 0; i < 20; i++) {
      const name = `m${i}`;
      const { ns, r } = await addPod(name, conf);
      expect(r.stderr + r.stdout).toContain('"ips"');
      expect(r.code).toBe(0);
      pods.push({ name, ns, ip: firstAddress(r.json) ?? '', result: r.json ?? {} });
    }
    const ips = pods.map((p) => p.ip);
    expect(new Set(ips).size).toBe(20);
    for (const p of pods) {
      expect(p.ip).toMatch(/^10\.77\.0\.(1\d|2\d)$/);
      const addr = await sh(['ip', '-n', p.ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      expect(addr).toContain(`inet ${p.ip}/24`);
      const route = await sh(['ip', '-n', p.ns, 'route', 'show', 'default']);
      expect(route).toContain('default via 10.77.0.1 dev eth0');
    }
    // The pods really talk over the bridge.
    const ping = await run(['ip', 'netns', 'exec', pods[0]!.ns, 'ping', '-c', '1', '-W', '3', pods[19]!.ip], { allowFailure: true });
    expect(ping.code).toBe(0);

    for (const p of pods.slice(0, 5)) {
      const check = await lab.call('CHECK', { ...conf, prevResult: p.result }, { containerId: `ctr-${p.name}`, podNetns: p.ns, cniArgs: args(p.name) });
      expect({ code: check.code, out: check.stdout }).toEqual({ code: 0, out: '' });
      // The bridge refuses a second ADD for an existing eth0, so the repeat goes to the IPAM plugin directly.
      const again = await lab.callIpam('ADD', conf, { containerId: `ctr-${p.name}`, podNetns: p.ns, cniArgs: args(p.name) });
      expect(firstAddress(again.json)).toBe(p.ip);
    }

    // The pool is full now: DEL must free, or these ADDs fail.
    for (const p of pods.slice(0, 10)) {
      const del = await lab.call('DEL', conf, { containerId: `ctr-${p.name}`, podNetns: p.ns, cniArgs: args(p.name) });
      expect(del.code).toBe(0);
      const delAgain = await lab.call('DEL', conf, { containerId: `ctr-${p.name}`, podNetns: p.ns, cniArgs: args(p.name) });
      expect(delAgain.code).toBe(0);
      await lab.deletePod(p.ns);
    }
    const fresh: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { r } = await addPod(`n${i}`, conf);
      expect(r.code).toBe(0);
      fresh.push(firstAddress(r.json) ?? '');
    }
    expect(new Set([...fresh, ...ips.slice(10)]).size).toBe(20);
  }, 180_000);

  it('fails cleanly through the bridge when the pool is exhausted, and DEL cleans the half-made pod', async () => {
    const conf = net('br-tiny', { ippools: { ipv4: ['tiny'] } });
    for (let i = 0; i < 3; i++) expect((await addPod(`t${i}`, conf)).r.code).toBe(0);
    const { ns, r } = await addPod('t3', conf);
    expect(r.code).not.toBe(0);
    expect(cniError(r).code).toBe(100);
    expect(cniError(r).msg).toMatch(/exhausted|no free|full/i);
    // The bridge leaves eth0 in the pod when IPAM fails; DEL removes it and exits 0.
    const del = await lab.call('DEL', conf, { containerId: 'ctr-t3', podNetns: ns, cniArgs: args('t3') });
    expect(del.code).toBe(0);
    const links = await sh(['ip', '-n', ns, '-o', 'link', 'show']);
    expect(links).not.toContain('eth0');
  });

  it('never hands one address to two of 16 concurrent ADDs', async () => {
    const conf = net('br-burst', { ippools: { ipv4: ['burst'] } });
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => addPod(`b${i}`, conf)));
    for (const x of results) expect(x.r.code).toBe(0);
    const ips = results.map((x) => firstAddress(x.r.json));
    expect(new Set(ips).size).toBe(16);
  });

  it('after kill -9 of the node agent and a restart, never hands out an address it already gave', async () => {
    const conf = net('br-crash', { ippools: { ipv4: ['crash'] } });
    for (let i = 0; i < 5; i++) expect((await addPod(`k${i}`, conf)).r.code).toBe(0);
    // Kill the agent while a burst of ADDs is in flight; whatever was acknowledged must survive.
    const inflight = Promise.all(Array.from({ length: 12 }, (_, i) => addPod(`kf${i}`, conf)));
    await new Promise((r) => setTimeout(r, 60));
    process.kill(agent!.pid, 'SIGKILL');
    await agent!.exited;
    const burst = await inflight;
    await startAgent();
    const acknowledged = new Map<string, string>();
    for (let i = 0; i < 5; i++) {
      const r = await lab.callIpam('ADD', conf, { containerId: `ctr-k${i}`, podNetns: netnsOf(`k${i}`), cniArgs: args(`k${i}`) });
      acknowledged.set(`k${i}`, firstAddress(r.json) ?? '');
    }
    burst.forEach((x, i) => {
      if (x.r.code === 0) acknowledged.set(`kf${i}`, firstAddress(x.r.json) ?? '');
    });
    // Acknowledged owners get the same address back after the restart.
    for (const [pod, ip] of acknowledged) {
      const r = await lab.callIpam('ADD', conf, { containerId: `ctr-${pod}`, podNetns: netnsOf(pod), cniArgs: args(pod) });
      expect(`${pod} ${firstAddress(r.json)}`).toBe(`${pod} ${ip}`);
    }
    const given = new Set(acknowledged.values());
    expect(given.size).toBe(acknowledged.size);
    for (let i = 0; i < 10; i++) {
      const { r } = await addPod(`ka${i}`, conf);
      expect(r.code).toBe(0);
      const ip = firstAddress(r.json) ?? '';
      expect(given.has(ip)).toBe(false);
      given.add(ip);
    }
  }, 180_000);

  it('answers bad netconf, unknown pools and an unreachable agent with proper CNI error codes', async () => {
    const badPools = await addPod('e1', net('br-err', { ippools: { ipv4: 'main' } }));
    expect(cniError(badPools.r).code).toBe(7);
    const unknown = await addPod('e2', net('br-err', { ippools: { ipv4: ['nope'] } }));
    expect(cniError(unknown.r).code).toBe(101);
    const away = await addPod('e3', net('br-err', { socket: join(lab.dir, 'nobody.sock') }));
    expect(cniError(away.r).code).toBe(11);
    expect(cniError(away.r).msg).toMatch(/not reachable/);
    for (const [pod, x] of [['e1', badPools], ['e2', unknown], ['e3', away]] as const) {
      expect(x.r.code).not.toBe(0);
      await lab.call('DEL', net('br-err'), { containerId: `ctr-${pod}`, podNetns: x.ns, cniArgs: args(pod) });
    }
  });

  it('gives the same results through the Node implementation of the plugin (no shell fast path)', async () => {
    const conf = net('br-burst', { ippools: { ipv4: ['burst'] } });
    const extraEnv = { STRAIT_IPAM_NODE: '1' };
    const ns = await lab.createPod('node1');
    const r = await lab.call('ADD', conf, { containerId: 'ctr-node1', podNetns: ns, cniArgs: args('node1'), extraEnv });
    expect(r.code).toBe(0);
    const again = await lab.callIpam('ADD', conf, { containerId: 'ctr-node1', podNetns: ns, cniArgs: args('node1') });
    expect(firstAddress(again.json)).toBe(firstAddress(r.json));
    const version = await lab.callIpam('VERSION', '{"cniVersion":"1.0.0"}', { containerId: 'x' });
    expect(version.json).toMatchObject({ supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
    expect((await lab.call('DEL', conf, { containerId: 'ctr-node1', podNetns: ns, cniArgs: args('node1'), extraEnv })).code).toBe(0);
  });
});

function netnsOf(pod: string): string {
  return `st-${runId}-${pod}`;
}
