// The lab's kubelet stand-in as a process: `strait lab up --kube` starts one per lab node (see kubelet.ts).
//
//   node dist/scenarios/kubelet/main.js --node N --run-id ID --kubeconfig F --node-netns NS --conf-dir D
//        --bin-dir D[,D…] --state-dir D [--node-ip IP] [--label k=v]…
import { parseArgs } from 'node:util';
import { loadKubeConfig } from '../../member-agent/index.js';
import { createLogger } from '../../host/index.js';
import { LabKubelet } from './kubelet.js';

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      node: { type: 'string' }, 'run-id': { type: 'string' }, kubeconfig: { type: 'string' }, 'node-netns': { type: 'string' },
      'conf-dir': { type: 'string' }, 'bin-dir': { type: 'string' }, 'state-dir': { type: 'string' }, 'node-ip': { type: 'string' },
      label: { type: 'string', multiple: true, default: [] },
    },
  });
  const need = (k: string, x: string | undefined): string => {
    if (!x) throw new Error(`--${k} is required`);
    return x;
  };
  const log = createLogger(`kubelet-${v.node ?? ''}`);
  const labels = Object.fromEntries(v.label.map((l) => {
    const i = l.indexOf('=');
    return i > 0 ? [l.slice(0, i), l.slice(i + 1)] : [l, ''];
  }));
  const kubelet = new LabKubelet({
    kubeConfig: loadKubeConfig(need('kubeconfig', v.kubeconfig)),
    nodeName: need('node', v.node),
    runId: need('run-id', v['run-id']),
    nodeNetns: need('node-netns', v['node-netns']),
    confDir: need('conf-dir', v['conf-dir']),
    binDirs: need('bin-dir', v['bin-dir']).split(','),
    stateDir: need('state-dir', v['state-dir']),
    ...(v['node-ip'] ? { nodeIp: v['node-ip'] } : {}),
    nodeLabels: labels,
    log,
  });
  await kubelet.start();
  log.info({ node: v.node }, 'lab kubelet ready');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal, pods: kubelet.podCount }, 'lab kubelet stopping (pod sandboxes stay, as with a real kubelet)');
  await kubelet.stop();
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
