/**
 * What the CNI specification fixes for an IPAM plugin: versions, well-known error codes and the error
 * object. No imports: the plugin entry loads this and must start fast.
 */
export const SUPPORTED_CNI_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
export const LATEST_CNI_VERSION = '1.0.0';

/** Where the plugin looks for the node agent when the netconf names no socket. */
export const DEFAULT_AGENT_SOCKET = '/run/strait/node-agent.sock';

/**
 * Error codes: 1-99 are the spec's well-known codes, 100+ are ours. The runtime shows `msg` to people
 * (kubelet events), so messages say what is wrong and what to do.
 */
export const CNI_CODE = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETCONF: 7,
  TRY_AGAIN_LATER: 11,
  /** Every candidate pool is full. */
  POOL_EXHAUSTED: 100,
  /** A named pool does not exist, or no pool fits the pod (disabled, affinity). */
  NO_SUITABLE_POOL: 101,
  /** CHECK found no allocation (or a different one) for this container. */
  NOT_ALLOCATED: 102,
  INTERNAL: 999,
} as const;

export interface CniErrorResult {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function cniError(cniVersion: string, code: number, msg: string, details?: string): CniErrorResult {
  return details ? { cniVersion, code, msg, details } : { cniVersion, code, msg };
}

/** The version to answer with: the netconf's when it is a string, else the latest (errors must still parse). */
export function requestedVersion(conf: unknown): string {
  const v = conf && typeof conf === 'object' ? (conf as { cniVersion?: unknown }).cniVersion : undefined;
  return typeof v === 'string' && v.length > 0 ? v : LATEST_CNI_VERSION;
}
