import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { rmSync, writeFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { newRunId, run, sh, startDaemon, stopPid, type DaemonHandle } from '../../host/index.js';
import { describeRoot, sleep, startTestKubeApiServer, startTestRedis, waitFor, type TestKubeApiServer, type TestRedis } from '../../testing/index.js';
import { gatewayAgentArgv, nodeSteerArgv, type CandidateAddress } from '../agents/agent-argv.js';
import { readAgentStatus } from '../agents/agent-status.js';
import { eipFenceLive } from './eip-fence.js';
import { buildEgressLab, EGRESS_LAB_NET as N, PROBER_JS, SEEN_ECHO_JS, seenSources as seen, writeScript, type EgressLab } from '../../scenarios/index.js';

/**
 * Egress selectors with packets: gateway agents and the node's steering agent read the pods from a (test)
 * Kubernetes API server (`--kubeconfig`), the pod's labels decide whether its traffic leaves from the policy's
 * egress IP, and a relabel changes that within 1 s. A second policy with `useNodeIP` sends the same pod's traffic to
 * another destination from the active gateway's own address.
 *
 * The agents in the lab's namespaces reach the API server (loopback of the host) at 10.50.0.1:6443 on the LAN
 * bridge through a socat relay. The external server logs the source address it sees for every datagram.
 */

const env = { ...process.env, STRAIT_LOG_LEVEL: 'info' };
const EIP = '172.31.0.201';
const EXT2 = '172.31.0.101';
const API_ADDR = '10.50.0.1';

describeRoot('egress selectors with packets (root, real processes, test API server)', () => {
  let lab: EgressLab;
  let redis: TestRedis | undefined;
  let api: TestKubeApiServer | undefined;
  let core: k8s.CoreV1Api;
  const daemons: DaemonHandle[] = [];
  let passed = false;
  const cands: CandidateAddress[] = [
    { name: 'gw1', address: N.gw1, priority: 100 },
    { name: 'gw2', address: N.gw2, priority: 50 },
  ];
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  const relabel = (app: string): Promise<unknown> => core.patchNamespacedPod({ namespace: 'default', name: 'app', body: { metadata: { labels: { app } } } }, merge);

  beforeAll(async () => {
    lab = await buildEgressLab(`eg${newRunId().slice(-6)}`);
    redis = await startTestRedis();
    api = await startTestKubeApiServer();
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    // The pod the lab's pod namespace stands for: on node1, address 10.50.0.2, selected while app=web.
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'app', labels: { app: 'web' } }, spec: { nodeName: 'node1', containers: [{ name: 'c', image: 'i' }] } } });
    await core.patchNamespacedPodStatus({ namespace: 'default', name: 'app', body: { status: { phase: 'Running', podIP: N.pod, podIPs: [{ ip: N.pod }] } } }, merge);
    // A host-network pod on the same node with the same labels: its address is the node's, never selected.
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'host', labels: { app: 'web' } }, spec: { nodeName: 'node1', hostNetwork: true, containers: [{ name: 'c', image: 'i' }] } } });
    await core.patchNamespacedPodStatus({ namespace: 'default', name: 'host', body: { status: { phase: 'Running', podIP: N.gw2, podIPs: [{ ip: N.gw2 }] } } }, merge);

    const port = new URL(api.url).port;
    const sock = `${lab.dir}/kube.sock`;
    await sh(['ip', '-n', lab.ns.lan, 'addr', 'add', `${API_ADDR}/24`, 'dev', 'br0']);
    daemons.push(startDaemon(['socat', `UNIX-LISTEN:${sock},fork,unlink-early`, `TCP:127.0.0.1:${port}`], { logFile: `${lab.dir}/socat-root.log` }));
    daemons.push(startDaemon(['socat', `TCP-LISTEN:6443,bind=${API_ADDR},fork,reuseaddr`, `UNIX-CONNECT:${sock}`], { netns: lab.ns.lan, logFile: `${lab.dir}/socat-lan.log` }));
    const kubeconfig = `${lab.dir}/kubeconfig`;
    writeFileSync(kubeconfig, api.kubeconfigYaml().replace(api.url, `http://${API_ADDR}:6443`), { mode: 0o600 });
    await waitFor('the API relay', async () => (await run(['curl', '-sS', '--max-time', '2', `http://${API_ADDR}:6443/version`], { netns: lab.ns.gw1, allowFailure: true })).stdout.includes('gitVersion'));

    const egressFile = `${lab.dir}/egress.yaml`;
    writeFileSync(egressFile, [
      'kind: EgressGateway', 'metadata: {name: egw}',
      'spec: {nodes: [gw1, gw2], clusterDefault: true, ippools: {ipv4: ["172.31.0.201-172.31.0.210"]}}', '---',
      'kind: EgressPolicy', 'metadata: {name: web, namespace: default}',
      `spec: {appliedTo: {podSelector: {matchLabels: {app: web}}}, destSubnet: ["${N.ext}/32"], egressIP: {ipv4: ${EIP}}}`, '---',
      'kind: EgressPolicy', 'metadata: {name: web-node-ip, namespace: default}',
      `spec: {appliedTo: {podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}}, destSubnet: ["${EXT2}/32"], egressIP: {useNodeIP: true}}`, '',
    ].join('\n'));
    await run(['ip', 'addr', 'add', `${EXT2}/24`, 'dev', 'eth0'], { netns: lab.ns.ext });
    for (const c of cands) {
      const argv = gatewayAgentArgv({
        cluster: 'east', name: c.name, priority: c.priority, runId: lab.runId, candidates: cands, leaseRedis: redis.socket,
        wanDev: 'eth1', lanDev: 'eth0', egressConfig: egressFile, clusterCidrs: [N.lanCidr], kubeconfig,
        statusFile: `${lab.dir}/${c.name}.status.json`,
      });
      daemons.push(startDaemon(argv, { netns: lab.ns[c.name as 'gw1'], logFile: `${lab.dir}/${c.name}.log`, env }));
    }
    const steer = nodeSteerArgv({
      cluster: 'east', name: 'node1', runId: lab.runId, candidates: cands, dev: 'eth0', egressConfig: egressFile,
      clusterCidrs: [N.lanCidr], kubeconfig, statusFile: `${lab.dir}/node1.status.json`,
    });
    daemons.push(startDaemon(steer, { netns: lab.ns.pod, logFile: `${lab.dir}/node1.log`, env }));
    const echo = writeScript(lab.dir, 'seen-echo.cjs', SEEN_ECHO_JS);
    daemons.push(startDaemon([process.execPath, echo, N.ext, '9000', `${lab.dir}/seen1.log`], { netns: lab.ns.ext, logFile: `${lab.dir}/echo1.log` }));
    daemons.push(startDaemon([process.execPath, echo, EXT2, '9000', `${lab.dir}/seen2.log`], { netns: lab.ns.ext, logFile: `${lab.dir}/echo2.log` }));
  }, 60_000);

  afterAll(async () => {
    if (lab && !passed) {
      for (const n of ['pod', 'gw1', 'gw2'] as const) {
        let dump = '';
        for (const argv of [['ip', 'rule'], ['ip', 'route', 'show', 'table', 'all'], ['nft', 'list', 'ruleset'], ['conntrack', '-L']]) {
          const r = await run(argv, { netns: lab.ns[n], allowFailure: true });
          dump += `### ${argv.join(' ')}\n${r.stdout}${r.stderr}\n`;
        }
        writeFileSync(`${lab.dir}/${n}.datapath.txt`, dump);
      }
    }
    for (const d of daemons.reverse()) await stopPid(d.pid, 2000);
    await lab?.teardown();
    await api?.stop();
    await redis?.stop();
    if (lab && passed) rmSync(lab.dir, { recursive: true, force: true });
    else if (lab) process.stderr.write(`egress selector test logs kept in ${lab.dir}\n`);
  }, 60_000);

  it('a pod whose labels match leaves from the egress IP (and from the gateway\'s own IP under useNodeIP); a relabel stops and restarts that within 1 s', async () => {
    await waitFor('gw1 active', () => readAgentStatus(`${lab.dir}/gw1.status.json`)?.role === 'active');
    await waitFor('node steered to gw1', () => readAgentStatus(`${lab.dir}/node1.status.json`)?.active[0] === 'gw1');
    await waitFor('gw1 serving the egress IP', async () => (await eipFenceLive(lab.runId, lab.ns.gw1)).includes(EIP));

    // One long-lived UDP flow per destination (same source port throughout): a relabel must move it too.
    const prober = writeScript(lab.dir, 'prober.cjs', PROBER_JS);
    daemons.push(startDaemon([process.execPath, prober, N.ext, '9000', `${lab.dir}/probe1.log`], { netns: lab.ns.pod, logFile: `${lab.dir}/prober1.out` }));
    daemons.push(startDaemon([process.execPath, prober, EXT2, '9000', `${lab.dir}/probe2.log`], { netns: lab.ns.pod, logFile: `${lab.dir}/prober2.out` }));
    const seen1 = `${lab.dir}/seen1.log`;
    const seen2 = `${lab.dir}/seen2.log`;
    await waitFor('ext sees the egress IP', () => seen(seen1).some((s) => s.src === EIP));
    // useNodeIP: the external server sees the active gateway's own WAN address.
    await waitFor('ext sees gw1\'s own address (useNodeIP)', () => seen(seen2).some((s) => s.src === N.gw1Wan));
    await sleep(500);
    const t = Date.now();
    expect(new Set(seen(seen1).filter((s) => s.at > t - 400).map((s) => s.src))).toEqual(new Set([EIP]));
    expect(new Set(seen(seen2).filter((s) => s.at > t - 400).map((s) => s.src))).toEqual(new Set([N.gw1Wan]));

    // Relabelled out of both policies: the external server must stop seeing the egress IP (and gw1's address).
    const out = Date.now();
    await relabel('api');
    await waitFor('ext no longer sees the egress IP', async () => {
      const last = seen(seen1).filter((s) => s.src === EIP).at(-1);
      return last !== undefined && Date.now() - last.at > 500;
    }, 10_000);
    await sleep(1000);
    const lastEip = seen(seen1).filter((s) => s.src === EIP).at(-1)?.at ?? out;
    const lastNodeIp = seen(seen2).filter((s) => s.src === N.gw1Wan).at(-1)?.at ?? out;
    const stopMs = lastEip - out;
    const stopNodeIpMs = lastNodeIp - out;

    // Relabelled back in: the egress IP again, from the same flow.
    const back = Date.now();
    await relabel('web');
    const firstBack = await waitFor('ext sees the egress IP again', () => seen(seen1).find((s) => s.at >= back && s.src === EIP), 10_000);
    const restartMs = firstBack.at - back;
    await waitFor('ext sees gw1 again (useNodeIP)', () => seen(seen2).some((s) => s.at >= back && s.src === N.gw1Wan), 10_000);
    await sleep(500);
    // The pod's own address never reached the external server while it was selected.
    const settled = Date.now() - 400;
    expect(new Set(seen(seen1).filter((s) => s.at > settled).map((s) => s.src))).toEqual(new Set([EIP]));
    process.stdout.write(`egress selector relabel (root, shared loaded machine): egress IP stops ${stopMs} ms, useNodeIP stops ${stopNodeIpMs} ms, egress IP back ${restartMs} ms after the API write\n`);
    expect(stopMs).toBeLessThan(1000);
    expect(stopNodeIpMs).toBeLessThan(1000);
    expect(restartMs).toBeLessThan(1000);
    // The egress IP stayed live on gw1 all along (a pods-only change keeps the fence): only rules moved.
    expect(await eipFenceLive(lab.runId, lab.ns.gw1)).toEqual([EIP]);
    expect(await eipFenceLive(lab.runId, lab.ns.gw2)).toEqual([]);
    passed = true;
  }, 120_000);
});
