/**
 * What one client connection may cost the broker: body size and time, header time, a watcher's backlog, the catch-up
 * page and the number of watches per credential. One place for the defaults; each has a `strait broker` flag
 * (docs/broker.md lists them).
 */
export interface EdgeLimits {
  /** request body limit in bytes */
  bodyBytes: number;
  /** body limit of heartbeats, which carry node and owner sets */
  heartbeatBodyBytes: number;
  /** the whole body must arrive within this long once the request is authenticated (408 REQUEST_TIMEOUT) */
  bodyTimeoutMs: number;
  /** the request headers must arrive within this long (Node closes the connection with 408) */
  headersTimeoutMs: number;
  /** bytes a watcher may leave unread before it is cut off (WATCH_TOO_SLOW, socket closed) */
  watchBacklogBytes: number;
  /** events per XRANGE page when a watch catches up from an old `since` */
  catchUpPage: number;
  /** open watches per credential (the admin token counts as one) on one replica (429 TOO_MANY_WATCHES) */
  watchesPerCredential: number;
}

export const DEFAULT_EDGE_LIMITS: Readonly<EdgeLimits> = Object.freeze({
  bodyBytes: 64 * 1024,
  heartbeatBodyBytes: 1024 * 1024,
  bodyTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  watchBacklogBytes: 8 * 1024 * 1024,
  catchUpPage: 1000,
  watchesPerCredential: 256,
});
