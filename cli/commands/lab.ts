import type { Command } from '@commander-js/extra-typings';
import type * as Scenarios from '../../scenarios/index.js';
import type { LabStepEvent } from '../../scenarios/index.js';
import { BUILTIN_TOPOLOGY_NAMES } from './help-defaults.js';

// A registry: each action imports the scenarios room (the lab) on first use, so `--help` and other commands never load it.
const scenarios = (): Promise<typeof Scenarios> => import('../../scenarios/index.js');

function stepLine(e: LabStepEvent): void {
  process.stderr.write(`  ${e.phase.padEnd(28)} ${String(e.count).padStart(3)}  ${String(e.ms).padStart(6)} ms\n`);
}

export function registerLabCommands(program: Command): void {
  const lab = program.command('lab').description('Network-namespace lab: clusters, nodes, gateways, pods and an external server on this machine');

  lab
    .command('up')
    .description('Build a lab and return once it is ready (step timings on stderr)')
    .requiredOption('--topology <name|file>', `built-in (${BUILTIN_TOPOLOGY_NAMES.join(', ')}) or a YAML/JSON topology file`)
    .option('--tunnel <type>', 'build tunnels between the clusters\' active gateways: vxlan, geneve, wireguard or ipsec')
    .option('--run-id <id>', 'run id (4-8 lowercase letters/digits); default: a new one')
    .option('--kube', 'also run Kubernetes: a test API server per cluster, the member, node, gateway and node-steer agents against it with their install identities, a kubelet stand-in on every node (docs/lab.md)')
    .option('--json', 'print {runId, hosts:{NAME:{netns,addresses,role,cluster}}[, kube:{broker, clusters:{NAME:{server, kubeconfig, …}}}]} on stdout')
    .action(async (o) => {
      const [{ newRunId }, { kubeLabExtension, labUp, readKubeInfo, teardownRun }] = await Promise.all([import('../../host/index.js'), scenarios()]);
      const runId = o.runId ?? newRunId();
      // Interrupted half-way (Ctrl-C): the build stops at its next step and rolls back everything it created.
      // A second signal removes what exists right away and exits.
      const abort = new AbortController();
      const onSignal = (): void => {
        if (abort.signal.aborted) {
          void teardownRun(runId).finally(() => process.exit(130));
          return;
        }
        process.stderr.write(`interrupted: stopping and removing run ${runId}\n`);
        process.exitCode = 130;
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.stderr.write(`lab ${runId}: building ${o.topology}${o.tunnel ? ` with ${o.tunnel} tunnels` : ''}${o.kube ? ' with Kubernetes' : ''}\n`);
      try {
        const l = await labUp({ topology: o.topology, runId, ...(o.tunnel ? { tunnel: o.tunnel } : {}), onStep: stepLine, signal: abort.signal }, o.kube ? kubeLabExtension() : undefined);
        process.stderr.write(`lab ${runId}: ready in ${l.setupMs} ms (${Object.keys(l.hosts).length} hosts); remove with: strait lab down ${runId}\n`);
        const kube = o.kube ? readKubeInfo(runId) : undefined;
        if (o.json) process.stdout.write(`${JSON.stringify({ runId, hosts: l.hosts, ...(kube ? { kube } : {}) })}\n`);
        else {
          for (const [name, h] of Object.entries(l.hosts)) {
            process.stdout.write(`${name.padEnd(16)} ${h.role.padEnd(8)} ${(h.cluster ?? '-').padEnd(6)} ${h.netns.padEnd(24)} ${h.addresses.join(' ')}\n`);
          }
          for (const [name, c] of Object.entries(kube?.clusters ?? {})) {
            process.stdout.write(`cluster ${name}: kubectl --kubeconfig ${c.kubeconfig} get nodes   (API ${c.server})\n`);
          }
        }
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      // The lab lives on without us (daemons are detached); drivers may still hold control sockets (VICI, OVS)
      // that would keep this process alive, so leave explicitly once the answer is out.
      process.stdout.write('', () => process.exit(process.exitCode ?? 0));
    });

  lab
    .command('down')
    .description('Remove a lab (namespaces, links, daemons, files), also after a crash')
    .argument('[run-id]', 'the run to remove (the same as --run-id)')
    .option('--run-id <id>', 'the run to remove')
    .option('--all', 'remove every lab on this machine (all st-* namespaces and recorded labs)')
    .option('--json', 'print what was removed as JSON')
    .action(async (positional, o) => {
      const [{ downTarget }, { labDown, labDownAll }] = await Promise.all([import('./lab-down-target.js'), scenarios()]);
      const runId = downTarget(positional, o);
      const reports = runId === 'all' ? await labDownAll() : [await labDown(runId.runId)];
      if (o.json) process.stdout.write(`${JSON.stringify(reports)}\n`);
      else {
        for (const r of reports) {
          process.stdout.write(`removed ${r.runId}: ${r.namespaces.length} namespaces, ${r.daemons} daemons, ${r.processes} other processes\n`);
        }
        if (reports.length === 0) process.stdout.write('no labs\n');
      }
    });

  lab
    .command('status')
    .description('List the labs on this machine')
    .option('--json', 'print as JSON')
    .action(async (o) => {
      const labs = await (await scenarios()).labStatus();
      if (o.json) {
        process.stdout.write(`${JSON.stringify(labs)}\n`);
        return;
      }
      if (labs.length === 0) {
        process.stdout.write('no labs\n');
        return;
      }
      process.stdout.write(`${'RUN'.padEnd(8)} ${'TOPOLOGY'.padEnd(16)} ${'TUNNEL'.padEnd(9)} ${'STATUS'.padEnd(9)} ${'NETNS'.padEnd(7)} ${'DAEMONS'.padEnd(7)} CREATED\n`);
      for (const l of labs) {
        process.stdout.write(
          `${l.runId.padEnd(8)} ${(l.topology ?? '-').padEnd(16)} ${(l.tunnel ?? '-').padEnd(9)} ${l.status.padEnd(9)} ${`${l.namespaces.present}/${l.namespaces.expected}`.padEnd(7)} ${`${l.daemons.alive}/${l.daemons.recorded}`.padEnd(7)} ${l.createdAt ?? '-'}\n`,
        );
      }
    });
}
