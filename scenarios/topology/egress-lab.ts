import { readFileSync, writeFileSync } from 'node:fs';
import { gatewayAgentArgv, nodeSteerArgv, type CandidateAddress, type GatewayAgentOptions, type NodeSteerOptions } from '../../gateway/index.js';
import { runDir, startDaemon, type DaemonHandle } from '../../host/index.js';
import { labUp } from '../lab/lab.js';
import { switchNetns } from '../lab/plan.js';
import { EGRESS_NET, egressTopology } from './hand-built.js';

/**
 * The small egress topology of the lab cookbook (section 5), namespaced by run id, for the gateway's egress root tests
 * (gateway/egress/*.root.test.ts) when the full
 * lab is not needed: pod 10.50.0.2, gw1 .11 and gw2 .12 on a LAN bridge; the gateways' eth1 (172.31.0.11/.12)
 * and ext 172.31.0.100 on a WAN bridge. The pod's main route goes via gw1 (non-policy traffic).
 * A thin adapter: the scenarios lab builds it (`egressTopology`), records it and tears it down, so
 * `strait lab down <run>` sweeps what a failed test left.
 */
export interface EgressLab {
  readonly runId: string;
  /** Host namespaces, and `lan`/`wan`: the switch namespaces holding each segment's bridge `br0`. */
  readonly ns: { pod: string; gw1: string; gw2: string; ext: string; lan: string; wan: string };
  /** The run directory: scripts, logs, status files. */
  readonly dir: string;
  /**
   * Ends every process in the lab and removes its namespaces; `dir` stays (a failed test keeps its logs there
   * and says so; a passed one removes it), recorded as a lab taken down, so `strait lab down <run>` removes it.
   */
  teardown(): Promise<void>;
}

export const EGRESS_LAB_NET = EGRESS_NET;

export async function buildEgressLab(runId: string): Promise<EgressLab> {
  const lab = await labUp({ topology: egressTopology(), runId });
  const ns = {
    pod: lab.netns('pod'), gw1: lab.netns('gw1'), gw2: lab.netns('gw2'), ext: lab.netns('ext'),
    lan: switchNetns(runId, 'lan'), wan: switchNetns(runId, 'wan'),
  };
  return {
    runId,
    ns,
    dir: runDir(runId),
    teardown: async () => {
      await lab.down({ keepRunDir: true });
    },
  };
}

/** UDP echo for ext: answers each datagram with "<seq> <source address it saw>". */
export const ECHO_SERVER_JS = `
const d = require('node:dgram'); const s = d.createSocket('udp4');
s.on('message', (m, r) => s.send(Buffer.from(m.toString() + ' ' + r.address), r.port, r.address));
s.bind(Number(process.argv[3]), process.argv[2]);
`;

/**
 * UDP echo that also appends "<ms since epoch> <source it saw>" to a file (argv: address, port, file) for every
 * datagram: what the external server sees, read back with `seenSources`.
 */
export const SEEN_ECHO_JS = `
const d = require('node:dgram'); const fs = require('node:fs'); const s = d.createSocket('udp4');
const fd = fs.openSync(process.argv[4], 'a');
s.on('message', (m, r) => { fs.writeSync(fd, Date.now() + ' ' + r.address + '\\n'); s.send(Buffer.from(m.toString() + ' ' + r.address), r.port, r.address); });
s.bind(Number(process.argv[3]), process.argv[2]);
`;

/** The datagrams a `SEEN_ECHO_JS` server logged so far: when (epoch ms) and from which source address. */
export function seenSources(file: string): { at: number; src: string }[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
      const [at, src] = l.split(' ');
      return { at: Number(at), src: src ?? '' };
    });
  } catch {
    return [];
  }
}

/** UDP prober for the pod: every 10 ms sends a sequence number; logs "<ms since start> <seq> <source seen>". */
export const PROBER_JS = `
const d = require('node:dgram'); const fs = require('node:fs'); const s = d.createSocket('udp4');
const [host, port, out] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
let seq = 0; const fd = fs.openSync(out, 'a');
s.on('message', (m) => fs.writeSync(fd, (Date.now()) + ' ' + m.toString() + '\\n'));
setInterval(() => s.send(String(seq++), port, host), 10);
`;

export function writeScript(dir: string, name: string, body: string): string {
  const p = `${dir}/${name}`;
  writeFileSync(p, body);
  return p;
}

/** The egress lab's two gateway candidates, gw1 preferred. */
export const EGRESS_LAB_CANDIDATES: readonly CandidateAddress[] = [
  { name: 'gw1', address: EGRESS_LAB_NET.gw1, priority: 100 },
  { name: 'gw2', address: EGRESS_LAB_NET.gw2, priority: 50 },
];

// Agents log at info into their log files (the test runner's silence must not leak into them).
const AGENT_ENV = { ...process.env, STRAIT_LOG_LEVEL: 'info' };

/**
 * The egress config of the file-sourced failover tests, written to `<dir>/egress.yaml`: one EgressGateway over
 * gw1 and gw2 (cluster default, pool 172.31.0.201-210) and the pod's policy towards the WAN pinned to `eip`.
 */
export function writeEgressConfig(lab: EgressLab, eip: string): string {
  const N = EGRESS_LAB_NET;
  return writeScript(lab.dir, 'egress.yaml', [
    'kind: EgressGateway', 'metadata: {name: egw}',
    'spec: {nodes: [gw1, gw2], clusterDefault: true, ippools: {ipv4: ["172.31.0.201-172.31.0.210"]}}', '---',
    'kind: EgressPolicy', 'metadata: {name: pod-out, namespace: default}',
    `spec: {appliedTo: {podSubnet: ["${N.pod}/32"]}, destSubnet: ["${N.wanCidr}"], egressIP: {ipv4: ${eip}}}`, '',
  ].join('\n'));
}

/**
 * Starts a gateway agent of cluster `east` in its namespace of the lab, as a real process: its log and status
 * files under the lab's dir (`<name>.log`, `<name>.status.json`), LAN eth0, WAN eth1. `o` adds or overrides options.
 */
export function startLabGateway(lab: EgressLab, name: 'gw1' | 'gw2', o: Partial<GatewayAgentOptions> & Pick<GatewayAgentOptions, 'leaseRedis'>): DaemonHandle {
  const c = EGRESS_LAB_CANDIDATES.find((x) => x.name === name);
  if (!c) throw new Error(name);
  const argv = gatewayAgentArgv({
    cluster: 'east', name, priority: c.priority, runId: lab.runId, candidates: EGRESS_LAB_CANDIDATES,
    wanDev: 'eth1', lanDev: 'eth0', clusterCidrs: [EGRESS_LAB_NET.lanCidr], statusFile: `${lab.dir}/${name}.status.json`, ...o,
  });
  return startDaemon(argv, { netns: lab.ns[name], logFile: `${lab.dir}/${name}.log`, env: AGENT_ENV });
}

/** Starts the node steering agent `node1` in the pod's namespace (log and status `node1.*` under the lab's dir). */
export function startLabSteer(lab: EgressLab, o: Partial<NodeSteerOptions> = {}): DaemonHandle {
  const argv = nodeSteerArgv({
    cluster: 'east', name: 'node1', runId: lab.runId, candidates: EGRESS_LAB_CANDIDATES, dev: 'eth0',
    clusterCidrs: [EGRESS_LAB_NET.lanCidr], statusFile: `${lab.dir}/node1.status.json`, ...o,
  });
  return startDaemon(argv, { netns: lab.ns.pod, logFile: `${lab.dir}/node1.log`, env: AGENT_ENV });
}
