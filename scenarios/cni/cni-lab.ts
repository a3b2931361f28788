import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { netnsName, run, runDir, type ExecResult } from '../../host/index.js';
import { repoRoot } from '../../member-agent/index.js';
import { cniNodeTopology, cniPod } from '../topology/hand-built.js';
import { labUp, type Lab } from '../lab/lab.js';
import { teardownRun } from '../lab/teardown.js';

/** Where Debian's containernetworking-plugins puts the reference plugins. */
export const REFERENCE_CNI_DIR = '/usr/lib/cni';

/** The root finder lives in repo-root.ts (product code needs it without the lab); kept here for the lab's users. */
export { repoRoot };

export interface CniCallOptions {
  containerId: string;
  /** Pod namespace name (under /run/netns); omitted for a DEL after the namespace is gone. */
  podNetns?: string;
  ifName?: string;
  cniArgs?: string;
  extraEnv?: NodeJS.ProcessEnv;
}

export interface CniCallResult extends ExecResult {
  /** stdout parsed as JSON when it is JSON. */
  json: Record<string, unknown> | undefined;
}

/**
 * A CNI test bench: a "node" network namespace where the reference bridge plugin keeps its bridge (so nothing
 * lands in the root namespace), a CNI_PATH with `strait-ipam` next to the reference plugins, and "pods" as
 * network namespaces. A thin adapter over the scenarios lab (`cniNodeTopology`, pods added with `addHost`):
 * everything carries the run id, is recorded in the run's lab state, and `destroy()` (or `strait lab down
 * <run>` after a crash) removes all of it.
 */
export class CniLab {
  readonly nodeNs: string;
  readonly dir: string;
  readonly binDir: string;
  readonly cniPath: string;
  private lab: Lab | undefined;

  constructor(readonly runId: string) {
    this.nodeNs = netnsName(runId, 'node');
    this.dir = join(runDir(runId), 'cni');
    this.binDir = join(this.dir, 'bin');
    this.cniPath = `${this.binDir}:${REFERENCE_CNI_DIR}`;
  }

  async setup(): Promise<void> {
    this.lab = await labUp({ topology: cniNodeTopology(), runId: this.runId });
    mkdirSync(this.binDir, { recursive: true });
    const link = join(this.binDir, 'strait-ipam');
    rmSync(link, { force: true });
    symlinkSync(resolve(repoRoot(), 'bin', 'strait-ipam'), link);
  }

  private built(): Lab {
    if (!this.lab) throw new Error(`CNI lab ${this.runId}: call setup() first`);
    return this.lab;
  }

  /** A pod: a fresh network namespace named `st-<run>-<name>`. */
  async createPod(name: string): Promise<string> {
    return (await this.built().addHost(cniPod(name))).netns;
  }

  async deletePod(ns: string): Promise<void> {
    const name = ns.slice(`st-${this.runId}-`.length);
    const lab = this.built();
    if (lab.hosts[name] && name !== 'node') await lab.removeHost(name);
  }

  /** Runs a CNI plugin (default: the reference bridge) inside the node namespace, as a runtime would. */
  async call(command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION', netconf: object | string, o: CniCallOptions, plugin = join(REFERENCE_CNI_DIR, 'bridge')): Promise<CniCallResult> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: o.containerId,
      CNI_IFNAME: o.ifName ?? 'eth0',
      CNI_PATH: this.cniPath,
      ...(o.podNetns ? { CNI_NETNS: `/run/netns/${o.podNetns}` } : {}),
      ...(o.cniArgs ? { CNI_ARGS: o.cniArgs } : {}),
      ...o.extraEnv,
    };
    const input = typeof netconf === 'string' ? netconf : JSON.stringify(netconf);
    const r = await run(['ip', 'netns', 'exec', this.nodeNs, plugin], { input, env, allowFailure: true, timeoutMs: 60_000 });
    let json: Record<string, unknown> | undefined;
    try {
      json = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { ...r, json };
  }

  /** Runs strait-ipam itself (as the bridge would), e.g. to repeat an ADD the bridge refuses for an existing eth0. */
  callIpam(command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION', netconf: object | string, o: CniCallOptions): Promise<CniCallResult> {
    return this.call(command, netconf, o, join(this.binDir, 'strait-ipam'));
  }

  writeFile(name: string, content: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, content);
    return p;
  }

  /** Removes every pod namespace, the node namespace (and the bridge and veths in it) and the run's files. */
  async destroy(): Promise<void> {
    if (this.lab) await this.lab.down();
    else await teardownRun(this.runId);
    this.lab = undefined;
  }
}

/** The bridge plugin's netconf with an IPAM section (strait-ipam or host-local). */
export function bridgeNetconf(o: { name: string; bridge: string; ipam: Record<string, unknown>; cniVersion?: string }): Record<string, unknown> {
  return { cniVersion: o.cniVersion ?? '1.0.0', name: o.name, type: 'bridge', bridge: o.bridge, isGateway: true, ipMasq: false, ipam: o.ipam };
}

/** The address (without prefix) of the first IP in a CNI result, or undefined. */
export function firstAddress(result: Record<string, unknown> | undefined): string | undefined {
  const ips = result?.ips as { address?: string }[] | undefined;
  return ips?.[0]?.address?.split('/')[0];
}
