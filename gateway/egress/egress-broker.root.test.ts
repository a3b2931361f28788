import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readFileSync, rmSync } from 'node:fs';
import type { BrokerClient } from '../../api/index.js';
import { newRunId, run, sh, startDaemon, stopPid, type DaemonHandle } from '../../host/index.js';
import { describeRoot, startTestRedis, type TestRedis, waitFor, startTestBroker, type TestBroker } from '../../testing/index.js';
import { readAgentStatus } from '../agents/agent-status.js';
import { eipFenceLive } from './eip-fence.js';
import { buildEgressLab, ECHO_SERVER_JS, EGRESS_LAB_NET as N, PROBER_JS, startLabGateway, startLabSteer, writeScript, type EgressLab } from '../../scenarios/index.js';

/**
 * Gateway agents and the node steering agent reading egress from a real broker (`--egress-from-broker`) instead of
 * a file: the cluster pushes an EgressGateway and a policy, the agents lease the pool IP from the broker, the
 * external server sees it; a policy added at the broker while everything runs brings a new rule and a new leased
 * IP without restarting anything, and deleting it takes the IP out of service.
 *
 * The gateways reach the in-process broker at 10.50.0.1:8443 on the LAN bridge: socat relays through a unix socket.
 */

function sources(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[2] ?? '');
  } catch {
    return [];
  }
}

describeRoot('egress from the broker (root, real processes)', () => {
  let lab: EgressLab;
  let redis: TestRedis | undefined;
  let broker: TestBroker | undefined;
  let east: BrokerClient;
  const cluster = 'east';
  const daemons: DaemonHandle[] = [];
  let passed = false;
  const EXT2 = '172.31.0.101';

  beforeAll(async () => {
    lab = await buildEgressLab(newRunId());
    redis = await startTestRedis();
    broker = await startTestBroker(redis.socket);
    const port = new URL(broker.handle.url).port;
    const sock = `${lab.dir}/broker.sock`;
    await sh(['ip', '-n', lab.ns.lan, 'addr', 'add', '10.50.0.1/24', 'dev', 'br0']);
    daemons.push(startDaemon(['socat', `UNIX-LISTEN:${sock},fork,unlink-early`, `TCP:127.0.0.1:${port}`], { logFile: `${lab.dir}/socat-root.log` }));
    daemons.push(startDaemon(['socat', 'TCP-LISTEN:8443,bind=10.50.0.1,fork,reuseaddr', `UNIX-CONNECT:${sock}`], { netns: lab.ns.lan, logFile: `${lab.dir}/socat-lan.log` }));
    const t = await broker.admin.createToken({ uses: 1 });
    const token = (await broker.admin.joinCluster({ id: cluster, podCIDRs: [N.lanCidr] }, t.token)).credentials.token;
    east = broker.client(token);
    // What a member agent pushes: the cluster's EgressGateway and one policy; the pool the IPs are leased from.
    await east.createPool({ name: 'egress-egw-v4', cidr: '172.31.0.200/29', purpose: 'egress' });
    await east.putEgressGateway(cluster, 'egw', { spec: { nodes: ['gw1', 'gw2'], clusterDefault: true, ippools: { ipv4: ['172.31.0.200-172.31.0.207'] } } });
    await east.putEgressPolicy(cluster, 'default', 'pod-out', { spec: { appliedTo: { podSubnet: [`${N.pod}/32`] }, destSubnet: [`${N.ext}/32`] } });
    await run(['ip', 'addr', 'add', `${EXT2}/24`, 'dev', 'eth0'], { netns: lab.ns.ext });
    await waitFor('the broker relay', async () => (await run(['curl', '-sS', '--max-time', '2', 'http://10.50.0.1:8443/healthz'], { netns: lab.ns.gw1, allowFailure: true })).stdout.includes('ok'));

    const brokerUrl = 'http://10.50.0.1:8443';
    for (const gw of ['gw1', 'gw2'] as const) daemons.push(startLabGateway(lab, gw, { leaseRedis: redis.socket, broker: brokerUrl, token, egressFromBroker: true }));
    daemons.push(startLabSteer(lab, { egressFromBroker: true, broker: brokerUrl, token }));
    const echo = writeScript(lab.dir, 'echo.cjs', ECHO_SERVER_JS);
    daemons.push(startDaemon([process.execPath, echo, N.ext, '9000'], { netns: lab.ns.ext, logFile: `${lab.dir}/echo1.log` }));
    daemons.push(startDaemon([process.execPath, echo, EXT2, '9000'], { netns: lab.ns.ext, logFile: `${lab.dir}/echo2.log` }));
  }, 60_000);

  afterAll(async () => {
    for (const d of daemons.reverse()) await stopPid(d.pid, 2000);
    await lab?.teardown();
    await broker?.stop();
    await redis?.stop();
    if (lab && passed) rmSync(lab.dir, { recursive: true, force: true });
    else if (lab) process.stderr.write(`egress-from-broker test logs kept in ${lab.dir}\n`);
  }, 60_000);

  it('serves the leased egress IP of the broker\'s policy, picks up a new policy live and drops a deleted one', async () => {
    const lease = await waitFor('the policy\'s lease', async () => (await east.listAddresses({ pool: 'egress-egw-v4' })).items[0]);
    expect(lease.owner).toBe(`egress:${cluster}:default/pod-out`);
    const eip1 = lease.ip;
    await waitFor('gw1 active', () => readAgentStatus(`${lab.dir}/gw1.status.json`)?.role === 'active');
    await waitFor('node steered to gw1', () => readAgentStatus(`${lab.dir}/node1.status.json`)?.active[0] === 'gw1');
    await waitFor('gw1 serving the leased IP', async () => (await eipFenceLive(lab.runId, lab.ns.gw1)).includes(eip1));

    const prober = writeScript(lab.dir, 'prober.cjs', PROBER_JS);
    const log1 = `${lab.dir}/probe1.log`;
    const log2 = `${lab.dir}/probe2.log`;
    daemons.push(startDaemon([process.execPath, prober, N.ext, '9000', log1], { netns: lab.ns.pod, logFile: `${lab.dir}/prober1.out` }));
    await waitFor('ext sees the leased egress IP', () => sources(log1).includes(eip1));

    // A new policy at the broker, nothing restarted: a new lease, served by the active gateway, steered by the node.
    // (The flow starts afterwards: a flow already running keeps the NAT state conntrack gave its first packet.)
    await east.putEgressPolicy(cluster, 'default', 'pod-out-2', { spec: { appliedTo: { podSubnet: [`${N.pod}/32`] }, destSubnet: [`${EXT2}/32`] } });
    const lease2 = await waitFor('the second lease', async () => (await east.listAddresses({ pool: 'egress-egw-v4' })).items.find((l) => l.owner === `egress:${cluster}:default/pod-out-2`));
    expect(lease2.ip).not.toBe(eip1);
    await waitFor('gw1 serving the second IP', async () => (await eipFenceLive(lab.runId, lab.ns.gw1)).includes(lease2.ip));
    daemons.push(startDaemon([process.execPath, prober, EXT2, '9000', log2], { netns: lab.ns.pod, logFile: `${lab.dir}/prober2.out` }));
    await waitFor('ext sees the second egress IP', () => sources(log2).includes(lease2.ip));
    expect(new Set(sources(log2).filter((s) => s.startsWith('172.31.0.2')))).toEqual(new Set([lease2.ip]));
    expect((await eipFenceLive(lab.runId, lab.ns.gw1)).sort()).toEqual([eip1, lease2.ip].sort());
    expect(await eipFenceLive(lab.runId, lab.ns.gw2)).toEqual([]);

    // Deleted at the broker: the gateway stops serving that IP; the first policy carries on.
    await east.deleteEgressPolicy(cluster, 'default', 'pod-out-2');
    await waitFor('the second IP out of service', async () => !(await eipFenceLive(lab.runId, lab.ns.gw1)).includes(lease2.ip));
    const after = Date.now();
    await waitFor('the first policy still answering', () => readFileSync(log1, 'utf8').split('\n').filter(Boolean).some((l) => Number(l.split(' ')[0]) > after && l.endsWith(` ${eip1}`)));
    passed = true;
  }, 90_000);
});
