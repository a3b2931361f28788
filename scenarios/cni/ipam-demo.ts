import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { createLogger, isRoot, newRunId, run, sh } from '../../host/index.js';
import { CniLab, bridgeNetconf, firstAddress } from './cni-lab.js';
import { startStandaloneNodeAgent, type RunningNodeAgent } from '../../member-agent/index.js';

export interface IpamDemoOptions {
  pods?: number;
  /** Where step output goes (stdout by default). */
  print?: (line: string) => void;
}

/**
 * The IPAM demo (`strait demo ipam`, the README's first command until the lab exists): a standalone node agent,
 * a bridge network in a "node" namespace, and a few "pods" attached through the reference bridge plugin with
 * strait-ipam. Prints what happens and removes everything afterwards, also on failure or Ctrl-C.
 */
export async function runIpamDemo(o: IpamDemoOptions = {}): Promise<void> {
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (!isRoot()) throw new StraitError('SCENARIO_NEEDS_ROOT', 'the IPAM demo creates network namespaces, so it must run as root');
  const podCount = Math.max(2, Math.min(o.pods ?? 3, 20));
  const runId = newRunId();
  const lab = new CniLab(runId);
  let agent: RunningNodeAgent | undefined;
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    print(`==> cleaning up run ${runId}: pods, node namespace, node agent, files`);
    await agent?.stop();
    await lab.destroy();
  };
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    print('\ninterrupted');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    print(`==> run ${runId}: node namespace ${lab.nodeNs}, CNI_PATH ${lab.cniPath}`);
    await lab.setup();
    const pools = { pools: [{ name: 'demo', subnet: '10.77.0.0/24', ips: ['10.77.0.10-10.77.0.29'], gateway: '10.77.0.1', default: true }] };
    const configFile = lab.writeFile('pools.json', JSON.stringify(pools, null, 2));
    const socketPath = join(lab.dir, 'agent.sock');
    print(`==> starting the node agent (standalone): pool demo 10.77.0.0/24, addresses 10.77.0.10-10.77.0.29, socket ${socketPath}`);
    agent = await startStandaloneNodeAgent({ configFile, socketPath, stateDir: join(lab.dir, 'state'), nodeName: 'demo-node', log: createLogger('node-agent', 'warn') });
    const netconf = bridgeNetconf({ name: 'strait-demo', bridge: 'strait0', ipam: { type: 'strait-ipam', socket: socketPath } });
    print(`==> netconf: ${JSON.stringify(netconf)}`);

    const pods: { name: string; ns: string; id: string; ip: string; cniArgs: string }[] = [];
    for (let i = 1; i <= podCount; i++) {
      const name = `pod${i}`;
      const ns = await lab.createPod(name);
      const id = `demo-${runId}-${name}`;
      const cniArgs = `IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=${name};K8S_POD_UID=uid-${runId}-${i}`;
      const t0 = performance.now();
      const r = await lab.call('ADD', netconf, { containerId: id, podNetns: ns, cniArgs });
      const ms = performance.now() - t0;
      if (r.code !== 0) throw new Error(`ADD of ${name} failed: ${r.stdout || r.stderr}`);
      const ip = firstAddress(r.json) ?? '?';
      const inside = (await sh(['ip', '-n', ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).match(/inet (\S+)/)?.[1] ?? 'none';
      const route = (await sh(['ip', '-n', ns, 'route', 'show', 'default'])).trim() || 'none';
      print(`    ${name}: ADD via bridge + strait-ipam in ${ms.toFixed(0)} ms -> ${ip}; inside ${ns}: eth0 ${inside}, ${route}`);
      pods.push({ name, ns, id, ip, cniArgs });
    }

    const [a, b] = pods;
    if (a && b) {
      const ping = await run(['ip', 'netns', 'exec', a.ns, 'ping', '-c', '2', '-i', '0.2', '-W', '2', b.ip], { allowFailure: true });
      const summary = ping.stdout.split('\n').find((l) => l.includes('packets transmitted')) ?? ping.stderr.trim();
      print(`==> ping ${a.name} (${a.ip}) -> ${b.name} (${b.ip}): ${summary}`);
      if (ping.code !== 0) throw new Error(`pods cannot reach each other: ${summary}`);
      const again = await lab.callIpam('ADD', netconf, { containerId: a.id, podNetns: a.ns, cniArgs: a.cniArgs });
      print(`==> repeated ADD (strait-ipam alone) for ${a.name} returns ${firstAddress(again.json) ?? '?'} (same owner, same address)`);
    }

    for (const p of pods) {
      const r = await lab.call('DEL', netconf, { containerId: p.id, podNetns: p.ns, cniArgs: p.cniArgs });
      if (r.code !== 0) throw new Error(`DEL of ${p.name} failed: ${r.stdout || r.stderr}`);
    }
    print(`==> DEL for all ${pods.length} pods: their addresses are free again`);
  } catch (e) {
    // After Ctrl-C the steps fail because cleanup pulls things away; the signal handler exits once it is done.
    if (interrupted) await new Promise(() => undefined);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
  print('==> done');
}
