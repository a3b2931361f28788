/**
 * The rooms' defaults that `--help` shows. They are copied here so that the command registry (and with it `strait
 * --help` and every start) loads no room; help-defaults.test.ts keeps each copy equal to the room's own value, so a
 * changed default fails there instead of drifting in the help text. The broker's edge limits moved to defaults/,
 * which both import.
 */

/** member-agent DEFAULT_CNI_SOCKET: where the node agent serves and the CNI plugin dials. */
export const CNI_SOCKET_DEFAULT = '/run/strait/node-agent.sock';

/** scenarios BUILTIN_NAMES: the topologies `strait lab up --topology` knows by name. */
export const BUILTIN_TOPOLOGY_NAMES = ['two-clusters', 'three-clusters', 'egress'] as const;

/** deploy defaultInstallOptions(version): what `strait manifests` prints without flags. */
export function installDefaults(version: string): { image: string; namespace: string; leaseRedis: string } {
  const namespace = 'strait-system';
  return { image: `ghcr.io/strait-io/strait:${version}`, namespace, leaseRedis: `redis://strait-gateway-leases.${namespace}.svc:6379` };
}
