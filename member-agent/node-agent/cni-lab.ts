import { existsSync, mkdirSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteNetns, ensureNetns, netnsName, run, runDir, type ExecResult } from '../../host/index.js';

/** Where Debian's containernetworking-plugins puts the reference plugins. */
export const REFERENCE_CNI_DIR = '/usr/lib/cni';

/** The repository root (this file runs from the sources under jest and from dist/ otherwise). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bin', 'strait-ipam'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the Strait repository root');
    dir = up;
  }
  return dir;
}

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
 * network namespaces. Everything carries the run id and `destroy()` removes all of it.
 */
export class CniLab {
  readonly nodeNs: string;
  readonly dir: string;
  readonly binDir: string;
  readonly cniPath: string;
  private readonly pods = new Set<string>();

  constructor(readonly runId: string) {
    this.nodeNs = netnsName(runId, 'node');
    this.dir = join(runDir(runId), 'cni');
    this.binDir = join(this.dir, 'bin');
    this.cniPath = `${this.binDir}:${REFERENCE_CNI_DIR}`;
  }

  async setup(): Promise<void> {
    mkdirSync(this.binDir, { recursive: true });
    const link = join(this.binDir, 'strait-ipam');
    rmSync(link, { force: true });
    symlinkSync(resolve(repoRoot(), 'bin', 'strait-ipam'), link);
    await ensureNetns(this.nodeNs);
  }

  /** A pod: a fresh network namespace named `st-<run>-<name>`. */
  async createPod(name: string): Promise<string> {
    const ns = netnsName(this.runId, name);
    await ensureNetns(ns);
    this.pods.add(ns);
    return ns;
  }

  async deletePod(ns: string): Promise<void> {
    await deleteNetns(ns);
    this.pods.delete(ns);
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
    for (const ns of [...this.pods]) await this.deletePod(ns);
    await deleteNetns(this.nodeNs);
    rmSync(this.dir, { recursive: true, force: true });
    // The run directory too, unless something else of this run still lives there.
    try {
      rmdirSync(dirname(this.dir));
    } catch {}
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
