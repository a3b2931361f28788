import { DEFAULT_EDGE_LIMITS, type EdgeLimits } from '../defaults/index.js';

// The limits' type and defaults live in defaults/ (shown by `strait broker --help` without loading the broker).
export { DEFAULT_EDGE_LIMITS, type EdgeLimits };

/**
 * Node's own `requestTimeout` backstops the body deadline for requests the app never reads (e.g. a body sent to an
 * unknown path, which Node drains after the answer). It stops counting once the request is received, so long watch
 * responses are not affected.
 */
export function requestTimeoutMs(l: EdgeLimits): number {
  return l.headersTimeoutMs + l.bodyTimeoutMs + 5_000;
}
