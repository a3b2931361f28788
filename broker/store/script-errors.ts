import { StraitError, type ErrorCode } from '../../api/index.js';

/** A script's reply: a status, then its values (see each `lua/*.lua` header). */
export type Reply = [string, ...string[]];

/** What the caller of a script knows that the reply does not carry, for the error's message and details. */
export interface ReplyContext {
  /** The object the script is about (kind and name, e.g. 'IPPool', 'p1'; for leases the kind is 'block'/'address', the name the pool). */
  kind: string;
  name: string;
  pool?: string;
  cluster?: string;
  /** A single lease's owner (the batch reply names the owner itself). */
  owner?: string;
  /** How many leases a batch asked for (absent for a single lease). */
  requested?: number;
  subnet?: string | undefined;
  cidr?: string;
  /** The CIDRs a join asked for, as the store compares them (`clusterRanges().cidrKey`). */
  cidrKey?: string;
  /** The object a put refers to (e.g. the cluster of an egress object). */
  ref?: { kind: string; name: string } | undefined;
  /** The caller-scoped Idempotency-Key. */
  idemKey?: string | undefined;
}

interface ScriptError {
  code: ErrorCode;
  error: (r: Reply, c: ReplyContext) => StraitError;
}

const staleMessage = (kind: string, name: string, rv: string | undefined): string => `${kind} ${JSON.stringify(name)} has changed (now at resourceVersion ${rv}); re-read and retry`;

/** A stored object's resourceVersion (its JSON starts with it: see lua/includes/common.lua). */
const rvOf = (json: string | undefined): string | undefined => json?.match(/^\{"resourceVersion":"(\d*)"/)?.[1];

/** Statuses that are an answer, not an error: the write happened (OK, EXISTING), or no recorded reply (NONE). */
export const SCRIPT_OUTCOMES: ReadonlySet<string> = new Set(['OK', 'EXISTING', 'NONE']);

/**
 * The one table from a script's error status to a catalog error. Every status a `lua/*.lua` file can return is
 * here or in SCRIPT_OUTCOMES (script-errors.test.ts greps them).
 */
export const SCRIPT_ERRORS: Readonly<Record<string, ScriptError>> = {
  IDEMMISMATCH: {
    code: 'IDEMPOTENCY_KEY_REUSED',
    error: (_r, c) => new StraitError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request (method, path or body); use a new key per request', { key: c.idemKey?.split('/').pop() }),
  },
  NORESERVED: {
    // lease-addresses.lua found the pool's reserved offsets stale again after the store refilled them 20 times
    // (ReservedIPs being written all along): nothing was leased.
    code: 'UNAVAILABLE',
    error: (_r, { name }) => new StraitError('UNAVAILABLE', `the reserved addresses of pool ${JSON.stringify(name)} kept changing while leasing; nothing was leased, retry`, { pool: name }),
  },
  NOTFOUND: {
    code: 'NOT_FOUND',
    error: (_r, { kind, name }) => new StraitError('NOT_FOUND', `${kind} ${JSON.stringify(name)} not found`, { kind, name }),
  },
  STALE: {
    code: 'STALE_RESOURCE_VERSION',
    error: (r, { kind, name }) => {
      const current = rvOf(r[1]);
      return new StraitError('STALE_RESOURCE_VERSION', staleMessage(kind, name, current), { kind, name, resourceVersion: current });
    },
  },
  EXISTS: {
    code: 'ALREADY_EXISTS',
    error: (_r, { kind, name }) => new StraitError('ALREADY_EXISTS', `${kind} ${JSON.stringify(name)} already exists`, { kind, name }),
  },
  NOREF: {
    code: 'NOT_FOUND',
    error: (_r, { ref }) => new StraitError('NOT_FOUND', `${ref?.kind} ${JSON.stringify(ref?.name)} not found`, { kind: ref?.kind, name: ref?.name }),
  },
  INUSE: {
    code: 'IN_USE',
    error: (r, { kind, name }) => {
      const guard = describeGuard(r[1] ?? '');
      return new StraitError('IN_USE', `${kind} ${JSON.stringify(name)} is still in use (${guard})`, { kind, name, guard, key: r[1] ?? '' });
    },
  },
  NOOWNER: {
    code: 'NOT_FOUND',
    error: (_r, { cluster }) => new StraitError('NOT_FOUND', `cluster ${JSON.stringify(cluster)} (the pool's owner) not found`, { kind: 'Cluster', name: cluster }),
  },
  NOPARENT: {
    code: 'NOT_FOUND',
    error: (_r, { subnet }) => new StraitError('NOT_FOUND', `subnet ${JSON.stringify(subnet)} not found`, { kind: 'Subnet', name: subnet }),
  },
  OUTSIDE: {
    code: 'INVALID_ARGUMENT',
    error: (r, { name, cidr, subnet }) => new StraitError('INVALID_ARGUMENT', `pool ${name}: ${cidr} is not inside subnet ${subnet} (${r[1]})`, { subnet, subnetCidr: r[1] }),
  },
  OVERLAP: {
    code: 'CIDR_OVERLAP',
    error: (r, { kind, name, cidr }) => {
      if (kind === 'Cluster') {
        // join.lua: the other cluster, then "mine=theirs" pairs joined by ';'.
        const pairs = (r[2] ?? '').split(';').map((p) => {
          const [mine, theirs] = p.split('=');
          return { cidr: mine, conflictsWith: theirs };
        });
        return new StraitError('CIDR_OVERLAP', `cluster ${name} overlaps cluster ${r[1]}: ${pairs.map((p) => `${p.cidr} overlaps ${p.conflictsWith}`).join(', ')}`, { cluster: r[1], ranges: pairs });
      }
      // create-ranged.lua: the other subnet/pool and its CIDR.
      return new StraitError('CIDR_OVERLAP', `${kind} ${name} (${cidr}) overlaps ${kind} ${r[1]} (${r[2]})`, { kind, [kind === 'Subnet' ? 'subnet' : 'pool']: r[1], ranges: [{ cidr, conflictsWith: r[2] }] });
    },
  },
  TOKEN: {
    code: 'JOIN_TOKEN_INVALID',
    error: (r) => new StraitError('JOIN_TOKEN_INVALID', `the join token is ${r[1]}`, { reason: r[1] }),
  },
  REGISTERED: {
    code: 'ALREADY_EXISTS',
    error: (r, { name, cidrKey }) =>
      r[2] !== cidrKey
        ? new StraitError('ALREADY_EXISTS', `cluster ${JSON.stringify(name)} is already registered with other CIDRs (${r[2]}); remove it first or use another id`, { kind: 'Cluster', name, registered: r[2] })
        : new StraitError(
            'ALREADY_EXISTS',
            `cluster ${JSON.stringify(name)} is already registered; a join token cannot re-join it: re-join with its current credential (Authorization: Bearer c.${name}.…), or have the admin issue a new one (POST /v1/clusters/${name}/credentials)`,
            { kind: 'Cluster', name, rejoin: 'credential' },
          ),
  },
  NOPOOL: {
    code: 'NOT_FOUND',
    error: (_r, { pool }) => new StraitError('NOT_FOUND', `pool ${JSON.stringify(pool)} not found`, { kind: 'IPPool', name: pool }),
  },
  NOCLUSTER: {
    code: 'NOT_FOUND',
    error: (_r, { cluster }) => new StraitError('NOT_FOUND', `cluster ${JSON.stringify(cluster)} not found`, { kind: 'Cluster', name: cluster }),
  },
  EXHAUSTED: {
    code: 'POOL_EXHAUSTED',
    error: (r, { pool, kind, requested }) => {
      if (requested === undefined) return new StraitError('POOL_EXHAUSTED', `pool ${pool} has no free ${kind}`, { pool });
      // The batch scripts answer how many were free.
      const asked = kind === 'block' ? `${requested} blocks` : 'the addresses asked for';
      return new StraitError('POOL_EXHAUSTED', `pool ${pool} cannot lease ${asked} (${r[1]} free); nothing was leased`, { pool, requested, available: Number(r[1]) });
    },
  },
  OWNED: {
    code: 'ALREADY_EXISTS',
    error: (r, { pool, owner, requested }) =>
      requested === undefined
        ? new StraitError('ALREADY_EXISTS', `owner ${JSON.stringify(owner)} already holds an address of pool ${pool} for another cluster`, { pool, owner })
        : new StraitError('ALREADY_EXISTS', `owner ${JSON.stringify(r[1])} already holds an address of pool ${pool} for another cluster; nothing was leased`, { pool, owner: r[1] }),
  },
  FORBIDDEN: {
    code: 'FORBIDDEN',
    error: (r, { kind, name }) => new StraitError('FORBIDDEN', `${kind === 'Block' ? 'block' : 'address'} ${name} belongs to cluster ${r[1]}`, { kind, name }),
  },
};

/** The catalog error of a reply that is not an outcome (INTERNAL for a status no script returns). */
export function scriptError(r: Reply, c: ReplyContext): StraitError {
  const entry = Object.hasOwn(SCRIPT_ERRORS, r[0]) ? SCRIPT_ERRORS[r[0]] : undefined;
  return entry ? entry.error(r, c) : new StraitError('INTERNAL', `unexpected store answer ${r[0]} for ${c.kind} ${c.name}`);
}

/** The stored object of a write that happened (OK / EXISTING); else its catalog error. */
export function objectOf(r: Reply, c: ReplyContext): unknown {
  if (r[0] === 'OK' || r[0] === 'EXISTING') return JSON.parse(r[1] ?? '{}');
  throw scriptError(r, c);
}

/** The guard key of an INUSE reply, said for a user. */
export function describeGuard(key: string): string {
  if (key.startsWith('sp:')) return 'it still has pools';
  if (key.startsWith('pb:')) return 'it still has leased blocks';
  if (key.startsWith('pa:')) return 'it still has leased addresses';
  return key;
}
