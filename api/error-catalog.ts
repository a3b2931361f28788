/**
 * The one catalog of Strait's error codes. Codes are stable: never rename or reuse one, only add.
 * Each entry gives the HTTP status the broker answers with and a default message; `docs/errors.md`
 * must list every code (a test checks it).
 *
 * Sections are kept apart by area so that additions from different areas do not collide.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export const ERROR_CATALOG = {
  // ---------------------------------------------------------------- general
  INTERNAL: { status: 500, message: 'internal error' },
  INVALID_ARGUMENT: { status: 400, message: 'invalid argument' },
  NOT_FOUND: { status: 404, message: 'not found' },
  UNAVAILABLE: { status: 503, message: 'a dependency is unavailable' },

  // ---------------------------------------------------------------- ipam
  INVALID_CIDR: { status: 400, message: 'invalid CIDR' },
  INVALID_IP: { status: 400, message: 'invalid IP address' },
  INVALID_IP_RANGE: { status: 400, message: 'invalid IP range' },
  INVALID_POOL: { status: 400, message: 'invalid IP pool' },
  INVALID_SUBNET: { status: 400, message: 'invalid subnet' },
  INVALID_RESERVED_IP: { status: 400, message: 'invalid reserved IP' },
  INVALID_POOL_ANNOTATION: { status: 400, message: 'invalid IP pool annotation' },
  INVALID_OWNER: { status: 400, message: 'invalid allocation owner' },
  POOL_OVERLAP: { status: 409, message: 'IP pools overlap' },
  POOL_NOT_FOUND: { status: 404, message: 'IP pool not found' },
  POOL_EXHAUSTED: { status: 409, message: 'IP pool exhausted' },
  NO_POOL_MATCHES: { status: 409, message: 'no IP pool fits this pod' },
  ALLOCATION_NOT_FOUND: { status: 404, message: 'no allocation for this owner' },
  IPAM_STORE_CORRUPT: { status: 500, message: 'IPAM store holds an unreadable record' },

  // node agent and the strait-ipam CNI plugin (CNI codes for these are in docs/cni.md)
  AGENT_UNREACHABLE: { status: 503, message: 'the Strait node agent is not reachable' },
  AGENT_SOCKET_IN_USE: { status: 409, message: 'another node agent already serves this socket' },
  AGENT_CONFIG_INVALID: { status: 400, message: 'the node agent pool config file is unreadable' },
  AGENT_STATE_DIR_UNUSABLE: { status: 500, message: 'the node agent cannot write its state directory' },

  // ---------------------------------------------------------------- broker
  MALFORMED_JSON: { status: 400, message: 'the request body is not valid JSON' },
  BODY_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  UNAUTHENTICATED: { status: 401, message: 'missing or unknown credentials' },
  JOIN_TOKEN_INVALID: { status: 401, message: 'the join token is unknown, expired or used up' },
  FORBIDDEN: { status: 403, message: 'these credentials may not do that' },
  ROUTE_NOT_FOUND: { status: 404, message: 'no such API path' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this path' },
  ALREADY_EXISTS: { status: 409, message: 'an object with that name already exists' },
  STALE_RESOURCE_VERSION: { status: 409, message: 'the object changed since the given resourceVersion' },
  CIDR_OVERLAP: { status: 409, message: 'the CIDRs overlap ranges that are already in use' },
  IN_USE: { status: 409, message: 'the object still has leases or dependants' },
  IMMUTABLE_FIELD: { status: 409, message: 'a field that cannot change was changed' },
  WATCH_EXPIRED: { status: 410, message: 'the requested resourceVersion is older than the event log keeps; relist' },
  CA_PIN_MISMATCH: { status: 401, message: 'the broker CA does not match the pinned caHash' },
  // honest outcomes of writes (issue #10 item 10)
  OUTCOME_UNKNOWN: { status: 503, message: 'the write may or may not have happened; retry with the same Idempotency-Key' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'the Idempotency-Key was used for a different request' },

  // ---------------------------------------------------------------- exact input (addresses, path names)
  SPECIAL_PURPOSE_ADDRESS: { status: 400, message: 'a special-purpose address or range where an ordinary unicast one is needed' },
  INVALID_PATH_PARAMETER: { status: 400, message: 'a name or id in the request path is malformed' },

  // ---------------------------------------------------------------- broker edge: per-connection limits and start-up
  REQUEST_TIMEOUT: { status: 408, message: 'the request body did not arrive in time' },
  UNSUPPORTED_CONTENT_ENCODING: { status: 415, message: 'the request body has a Content-Encoding the broker does not accept' },
  WATCH_SINCE_INVALID: { status: 400, message: 'since is not a single resourceVersion at or below the current one' },
  TOO_MANY_WATCHES: { status: 429, message: 'these credentials already hold the most open watches allowed' },
  WATCH_TOO_SLOW: { status: 429, message: 'the watcher stopped reading and its backlog passed the limit; it was cut off' },
  LISTEN_FAILED: { status: 500, message: 'the daemon cannot listen on its address' },

  // ---------------------------------------------------------------- tunnel
  TUNNEL_UNKNOWN_TYPE: { status: 400, message: 'unknown tunnel type' },
  TUNNEL_INVALID_PEER: { status: 400, message: 'invalid tunnel peer' },
  TUNNEL_INVALID_CONFIG: { status: 400, message: 'invalid tunnel configuration' },
  TUNNEL_NOT_INITIALIZED: { status: 409, message: 'tunnel driver not initialised' },
  TUNNEL_UNAVAILABLE: { status: 503, message: 'no implementation of this tunnel type on this host' },
  TUNNEL_DATAPATH_FAILED: { status: 500, message: 'tunnel datapath operation failed' },
  TUNNEL_VICI_ERROR: { status: 502, message: 'strongSwan VICI request failed' },

  // ---------------------------------------------------------------- lab and scenarios
  LAB_TOPOLOGY_INVALID: { status: 400, message: 'invalid lab topology' },
  LAB_TOPOLOGY_NOT_FOUND: { status: 404, message: 'no such lab topology (built-in name or file)' },
  LAB_NOT_FOUND: { status: 404, message: 'no such lab run' },
  LAB_RUN_EXISTS: { status: 409, message: 'a lab with this run id already exists' },
  LAB_BUILD_FAILED: { status: 500, message: 'building the lab failed; everything created was removed' },
  LAB_HOST_NOT_FOUND: { status: 404, message: 'no such host in this lab' },
  SCENARIO_INVALID: { status: 400, message: 'the scenario file is invalid' },
  SCENARIO_NOT_FOUND: { status: 404, message: 'no such scenario' },
  SCENARIO_NEEDS_ROOT: { status: 403, message: 'running a scenario needs root (network namespaces)' },
  SCENARIO_LAB_FAILED: { status: 500, message: 'the scenario lab could not be set up' },
  SCENARIO_ASSERTION_FAILED: { status: 500, message: 'a scenario assertion failed' },

  // ---------------------------------------------------------------- gateway and egress
  GATEWAY_INVALID_CONFIG: { status: 400, message: 'invalid gateway agent configuration' },
  GATEWAY_UNKNOWN_PROFILE: { status: 400, message: 'unknown failover profile' },
  GATEWAY_LEASE_UNAVAILABLE: { status: 503, message: 'the gateway lease store cannot be reached' },
  GATEWAY_DATAPATH_FAILED: { status: 500, message: 'gateway datapath operation failed' },
  EGRESS_INVALID_POLICY: { status: 400, message: 'invalid egress policy' },
  EGRESS_GATEWAY_NOT_FOUND: { status: 404, message: 'egress gateway not found' },
  EGRESS_IP_NOT_IN_POOL: { status: 400, message: 'egress IP is not in the gateway pools' },
  EGRESS_POOL_EXHAUSTED: { status: 409, message: 'no free egress IP in the gateway pools' },

  // ---------------------------------------------------------------- kubernetes side
  KUBE_UNREACHABLE: { status: 503, message: 'the Kubernetes API server cannot be reached' },
  KUBE_API_ERROR: { status: 502, message: 'the Kubernetes API server refused a request' },
  KUBECONFIG_INVALID: { status: 400, message: 'the kubeconfig cannot be loaded' },
  BROKER_CA_MISMATCH: { status: 400, message: 'the broker certificate does not match the pinned CA hash' },
  ALREADY_JOINED: { status: 409, message: 'this cluster already joined a broker under another id or URL' },
  NOT_JOINED: { status: 404, message: 'this cluster has not joined a broker (no strait-system credentials Secret)' },
  POD_CIDR_UNKNOWN: { status: 400, message: 'no pod CIDR given and none found on the Nodes' },
  CREDENTIAL_NOT_STORED: { status: 502, message: 'the broker issued a new cluster credential but the cluster Secret could not be written' },
  KUBE_OBJECT_NOT_FOUND: { status: 404, message: 'the pod, its namespace or this node is not known to the Kubernetes API server' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];
