import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { repoRoot } from '../node-agent/repo-root.js';

export const DEFAULT_CNI_SOCKET = '/run/strait/node-agent.sock';
export const CNI_BINARY_NAME = 'strait-ipam';
export const CONFLIST_NAME = '10-strait.conflist';

export interface CniInstallOptions {
  /** Where the runtime looks for plugins (the host's /opt/cni/bin, mounted into the installing container). */
  binDir: string;
  /** Where the runtime reads network configurations (the host's /etc/cni/net.d). */
  confDir: string;
  /** The node agent's socket as the plugin, running on the host, sees it. */
  socketPath?: string;
  /** The plugin to install (default: bin/strait-ipam of this installation). */
  source?: string;
}

/** The pods' gateway when their pool names none: link-local, on the host side of every pod's veth. */
export const POD_GATEWAY = { ipv4: '169.254.1.1', ipv6: 'fe80::1' } as const;

/**
 * The network configuration the node agent's DaemonSet installs: the reference `ptp` plugin with Strait's IPAM,
 * and `portmap` for hostPorts. Both reference plugins come with the node's containernetworking-plugins.
 *
 * Not `bridge`: a node's pods come from several pools (pod and namespace annotations, affinities), and the bridge
 * plugin with `isGateway` puts each pod's gateway on the one bridge, which refuses a second IPv4 address ("cni0
 * already has an IP address different from 10.11.201.1/24"): the first pod of a node's second pool never started
 * (issue #13, the --kube lab). `ptp` gives each pod its own veth and routes it by its /32, so pools mix freely; it
 * needs a gateway per address, which `podGateway` supplies for pools that name none.
 *
 * No `ipMasq`: with it the plugin masquerades everything a pod sends outside its own pool to the node's address,
 * before Strait sees it. An egress gateway then never saw the pod's address and so never applied the pod's
 * EgressPolicy (the node steered the packet, the gateway's SNAT rule matched nothing: the --kube lab's egress case),
 * and a pod in another cluster saw the node instead of the pod. Pod traffic leaves with the pod's own address; an
 * EgressPolicy gives it a stable one towards the outside (docs/egress.md).
 */
export function straitConflist(o: { socketPath?: string } = {}): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'strait',
    plugins: [
      { type: 'ptp', ipam: { type: CNI_BINARY_NAME, socket: o.socketPath ?? DEFAULT_CNI_SOCKET, podGateway: { ...POD_GATEWAY } } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/** Writes `content` to `path` through a rename, so a runtime reading the directory never sees half a file. */
function writeAtomically(path: string, write: (tmp: string) => void, mode: number): void {
  const tmp = `${path}.strait-tmp-${process.pid}`;
  try {
    write(tmp);
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Installs the `strait-ipam` plugin and the conflist (the node agent DaemonSet's init container runs this through
 * `strait install-cni`). Idempotent: running it again replaces both atomically; a running pod's plugin call sees
 * either the old or the new file, never a partial one.
 */
export function installCni(o: CniInstallOptions): { binary: string; conflist: string } {
  const source = o.source ?? join(repoRoot(), 'bin', CNI_BINARY_NAME);
  if (!existsSync(source)) throw new StraitError('INVALID_ARGUMENT', `the plugin to install, ${source}, does not exist`);
  for (const [flag, dir] of [['--bin-dir', o.binDir], ['--conf-dir', o.confDir]] as const) {
    if (!dir.startsWith('/')) throw new StraitError('INVALID_ARGUMENT', `${flag} must be an absolute path, got ${JSON.stringify(dir)}`);
  }
  if (o.socketPath !== undefined && !o.socketPath.startsWith('/')) throw new StraitError('INVALID_ARGUMENT', `--socket must be an absolute path, got ${JSON.stringify(o.socketPath)}`);
  mkdirSync(o.binDir, { recursive: true });
  mkdirSync(o.confDir, { recursive: true });
  const binary = join(o.binDir, CNI_BINARY_NAME);
  const conflist = join(o.confDir, CONFLIST_NAME);
  writeAtomically(binary, (tmp) => copyFileSync(source, tmp), 0o755);
  const text = `${JSON.stringify(straitConflist(o), null, 2)}\n`;
  writeAtomically(conflist, (tmp) => writeFileSync(tmp, text), 0o644);
  return { binary, conflist };
}

/** Removes what `installCni` wrote (uninstall); true for each file that was there. */
export function uninstallCni(o: Pick<CniInstallOptions, 'binDir' | 'confDir'>): { binary: boolean; conflist: boolean } {
  const gone = (p: string): boolean => {
    const had = existsSync(p);
    rmSync(p, { force: true });
    return had;
  };
  // The conflist first: a runtime must not pick a configuration whose plugin is already gone.
  const conflist = gone(join(o.confDir, CONFLIST_NAME));
  const binary = gone(join(o.binDir, CNI_BINARY_NAME));
  return { binary, conflist };
}
