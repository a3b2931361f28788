import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';

/**
 * How containerd (through libcni) runs a CNI network configuration list, as pure functions: which file of the conf
 * dir it takes, the stdin of each plugin, and CNI_ARGS. The lab's kubelet stand-in uses these and only does the exec.
 */

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

/** The pod a sandbox is for (what containerd's CRI plugin passes as CNI_ARGS). */
export interface SandboxPod {
  namespace: string;
  name: string;
  uid: string;
}

/**
 * libcni picks the lexically first `*.conflist`/`*.conf`/`*.json` of the conf dir (containerd's `conf_dir`); a
 * single-plugin `.conf` is wrapped into a list of one. No file at all is the runtime's "cni config uninitialized".
 */
export function pickConflist(files: readonly { name: string; text: string }[]): Conflist {
  const usable = files.filter((f) => /\.(conflist|conf|json)$/.test(f.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const first = usable[0];
  if (!first) throw new StraitError('INVALID_ARGUMENT', 'cni config uninitialized: no *.conflist, *.conf or *.json in the CNI conf dir');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(first.text) as Record<string, unknown>;
  } catch (e) {
    throw new StraitError('INVALID_ARGUMENT', `${first.name} is not JSON: ${(e as Error).message}`);
  }
  const cniVersion = typeof parsed.cniVersion === 'string' ? parsed.cniVersion : '1.0.0';
  const name = typeof parsed.name === 'string' ? parsed.name : '';
  if (!first.name.endsWith('.conflist')) return { cniVersion, name, plugins: [parsed] };
  const plugins = parsed.plugins;
  if (!Array.isArray(plugins) || plugins.length === 0 || !plugins.every((p) => typeof p === 'object' && p !== null && typeof (p as { type?: unknown }).type === 'string')) {
    throw new StraitError('INVALID_ARGUMENT', `${first.name}: "plugins" must be a non-empty list of objects with a "type"`);
  }
  return { cniVersion, name, plugins: plugins as Record<string, unknown>[] };
}

/** Reads the conf dir and picks its conflist (see pickConflist). */
export function readConflist(confDir: string): Conflist {
  let names: string[];
  try {
    names = readdirSync(confDir);
  } catch {
    names = [];
  }
  return pickConflist(names.map((name) => ({ name, text: readFileSync(join(confDir, name), 'utf8') })));
}

/** CNI_ARGS as containerd's CRI plugin sets them for a pod sandbox. */
export function podCniArgs(pod: SandboxPod, containerId: string): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${containerId};K8S_POD_UID=${pod.uid}`;
}

/**
 * One plugin's stdin (libcni buildOneConfig): the plugin's own object with the list's `name` and `cniVersion`,
 * `prevResult` from the plugin before it (ADD) or the cached result of the ADD (DEL), and `runtimeConfig` for the
 * capabilities it asks for (containerd always offers `portMappings`, empty for a pod without hostPorts).
 */
export function pluginNetconf(list: Conflist, plugin: Record<string, unknown>, prevResult: Record<string, unknown> | undefined): Record<string, unknown> {
  const caps = (plugin.capabilities ?? {}) as Record<string, unknown>;
  const runtimeConfig: Record<string, unknown> = {};
  if (caps.portMappings === true) runtimeConfig.portMappings = [];
  const { capabilities: _c, ...rest } = plugin;
  return {
    ...rest,
    name: list.name,
    cniVersion: list.cniVersion,
    ...(Object.keys(runtimeConfig).length ? { runtimeConfig } : {}),
    ...(prevResult ? { prevResult } : {}),
  };
}

/** The pod's addresses (without prefix length) in a CNI result, in order. */
export function resultAddresses(result: Record<string, unknown> | undefined): string[] {
  const ips = (result?.ips ?? []) as { address?: string }[];
  return ips.map((i) => i.address?.split('/')[0]).filter((a): a is string => typeof a === 'string' && a !== '');
}

/** The message of a CNI error result (`{code, msg, details}`), or the raw output when it is not one. */
export function cniErrorMessage(stdout: string, stderr: string): string {
  try {
    const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
    if (typeof e.msg === 'string') return `${e.msg}${e.details ? `: ${e.details}` : ''}${e.code !== undefined ? ` (CNI code ${e.code})` : ''}`;
  } catch {}
  return (stdout.trim() || stderr.trim() || 'no output').slice(0, 500);
}
