import { z } from 'zod';
import {
  AddressBatchLeaseRequest,
  AddressLease,
  AddressLeaseRequest,
  Block,
  BlockBatchLeaseRequest,
  BlockLeaseRequest,
  BrokerEgressClusterPolicy,
  BrokerEgressGateway,
  BrokerEgressPolicy,
  Cluster,
  ClusterJoined,
  ClusterJoinRequest,
  ClusterPatch,
  EgressClusterPolicyPut,
  EgressGatewayPut,
  EgressObjectName,
  EgressPolicyPut,
  Gateway,
  GatewayPut,
  Health,
  HeartbeatRequest,
  IPPool,
  IPPoolCreate,
  IPPoolPut,
  IpAddress,
  listOf,
  Name,
  NamespaceName,
  ReservedIP,
  ReservedIPPut,
  POOL_RULE_FIELDS,
  StraitError,
  Subnet,
  SubnetCreate,
  SubnetPut,
  Token,
  TokenCreated,
  TokenCreateRequest,
  type Gateway as GatewayT,
} from '../api/index.js';
import { requireClusterOrAdmin, requirePoolOwner, type Principal } from './auth.js';
import { egressKey, sha256Hex, type BrokerStore, type EgressKind, type Idem } from './broker-store.js';
import { canonicalIp } from './cidr-range.js';
import { checkPoolRules, rulesOf } from './pool-spec.js';
import { poolsOfReserved } from './reserved-ips.js';

export type Auth = 'none' | 'join' | 'any' | 'admin';

export interface RouteContext {
  store: BrokerStore;
  principal: Principal;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: unknown;
  /** the bearer token as given (join tokens) */
  bearer: string | undefined;
  brokerUrl: string;
  caHash: string;
  onClusterGone: (id: string) => void;
  /** the request's Idempotency-Key, scoped to the caller (see idempotencyOf); passed to the store's one write */
  idem?: Idem | undefined;
}

/**
 * The Idempotency-Key of a write request as the store records it: scoped to who is calling (a key of one cluster
 * never answers another's request) and bound to the request by a fingerprint of method, path, query and body.
 * Undefined without the header; INVALID_ARGUMENT for a malformed one.
 */
export function idempotencyOf(header: string | undefined, req: { method: string; url: string; body: unknown; principal: Principal; bearer: string | undefined; auth: Auth }): Idem | undefined {
  if (!header || req.method === 'GET') return undefined;
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(header)) {
    throw new StraitError('INVALID_ARGUMENT', 'Idempotency-Key must be 1 to 128 characters of A-Z a-z 0-9 . _ : -', { header: 'Idempotency-Key' });
  }
  const who = req.auth === 'join' ? `join/${sha256Hex(req.bearer ?? '').slice(0, 16)}` : req.principal.kind === 'admin' ? 'admin' : `cluster/${req.principal.cluster}`;
  return { key: `${who}/${header}`, fingerprint: sha256Hex(`${req.method} ${req.url} ${JSON.stringify(req.body ?? {})}`).slice(0, 32) };
}

export interface RouteSpec {
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI path syntax: `/v1/clusters/{id}` */
  path: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  /**
   * Schema of every `{param}` in `path` (checked when the table is built): handlers only ever see validated
   * params, so a name such as `%0d%0aX-Injected:%201`, `..`, `a/b` or 2,000 characters never reaches the store.
   */
  params?: Record<string, z.ZodType<string>>;
  query?: Record<string, string>;
  status: number;
  response?: z.ZodType;
  handler?: (c: RouteContext) => Promise<unknown>;
}

// ------------------------------------------------------------------ path parameters
/** Join token ids: the 8 hex digits before the dot of `<id>.<secret>`. */
const TokenId = z.string().regex(/^[0-9a-f]{8}$/, { message: 'must be a token id (8 hex digits)' });
/** Block ids: `<pool>.<index>.<revision>`, as the lease script makes them. */
const BlockId = z.string().max(100).regex(/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?\.\d{1,12}\.\d{1,18}$/, { message: 'must be a block id (<pool>.<index>.<revision>)' });
const CLUSTER = { id: Name };
const NAMED = { name: Name };

/** Wraps a route's handler so its path parameters are parsed first; refuses a route whose params lack a schema. */
function withParams(r: RouteSpec): RouteSpec {
  const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const missing = names.filter((n) => !r.params?.[n]);
  if (missing.length) throw new Error(`route ${r.id}: path parameters without a schema: ${missing.join(', ')}`);
  const handler = r.handler;
  if (!handler || names.length === 0) return r;
  const schemas = r.params!;
  // Values that passed, by parameter: the same few pool and cluster names come on every lease, and a schema parse
  // per request was a measurable part of one. Bounded (the values come from requests); refusals are not kept.
  const passed = new Map(names.map((n) => [n, new Map<string, string>()]));
  return {
    ...r,
    handler: (c) => {
      const params: Record<string, string> = {};
      for (const n of names) {
        const given = c.params[n];
        const seen = passed.get(n)!;
        const hit = given === undefined ? undefined : seen.get(given);
        if (hit !== undefined) {
          params[n] = hit;
          continue;
        }
        const got = schemas[n]!.safeParse(given);
        if (!got.success) {
          const raw = String(given ?? '');
          throw new StraitError('INVALID_PATH_PARAMETER', `path parameter ${n}: ${got.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(raw.slice(0, 80))}${raw.length > 80 ? `, ${raw.length} characters` : ''})`, { parameter: n });
        }
        if (seen.size >= 1024) seen.clear();
        if (given !== undefined) seen.set(given, got.data);
        params[n] = got.data;
      }
      c.params = params;
      return handler(c);
    },
  };
}

const fromList = (q: string | undefined): string | undefined => (q === undefined || q === '' ? undefined : q);

/** The name a PUT writes: the path's. The body may repeat it; another name there is refused. */
function putName(c: RouteContext, inBody: string | undefined): string {
  const name = c.params.name!;
  if (inBody !== undefined && inBody !== name) throw new StraitError('INVALID_ARGUMENT', 'name in the body must match the path', { name: inBody });
  return name;
}

/** The `?cluster=&pool=` filter of the lease lists; undefined (no filter) when neither is given. */
function byClusterAndPool(query: Record<string, string | undefined>): ((o: { cluster: string; pool: string }) => boolean) | undefined {
  const cl = fromList(query.cluster), pool = fromList(query.pool);
  return cl || pool ? (o) => (!cl || o.cluster === cl) && (!pool || o.pool === pool) : undefined;
}

/**
 * PUT/GET/DELETE of one egress kind under `/v1/clusters/{id}/<plural>/[{namespace}/]{name}` plus the list
 * `GET /v1/<plural>`. A cluster credential reads all and writes only its own cluster's objects.
 */
function egressRoutes(kind: EgressKind, plural: string, put: z.ZodType, object: z.ZodType, namespaced: boolean): RouteSpec[] {
  const path = `/v1/clusters/{id}/${plural}/${namespaced ? '{namespace}/' : ''}{name}`;
  const params = { id: Name, name: EgressObjectName, ...(namespaced ? { namespace: NamespaceName } : {}) };
  const keyOf = (c: RouteContext): { cluster: string; name: string; namespace?: string } => ({
    cluster: c.params.id!,
    name: c.params.name!,
    ...(namespaced ? { namespace: c.params.namespace! } : {}),
  });
  return [
    {
      id: `put${kind}`, method: 'PUT', path, summary: `Create or replace an ${kind} of a cluster: {spec, labels?, resourceVersion?}, spec as in the CRD`, auth: 'any', params, body: put, status: 200, response: object,
      handler: (c) => {
        const k = keyOf(c);
        requireClusterOrAdmin(c.principal, k.cluster, `write ${plural}`);
        const b = c.body as { spec: unknown; labels?: Record<string, string>; resourceVersion?: string };
        return c.store.putEgress(kind, { ...k, spec: b.spec, labels: b.labels ?? {} }, b.resourceVersion ?? '', c.idem);
      },
    },
    { id: `get${kind}`, method: 'GET', path, summary: `Get an ${kind}`, auth: 'any', params, status: 200, response: object, handler: (c) => c.store.get(kind, egressKey(keyOf(c))) },
    {
      id: `delete${kind}`, method: 'DELETE', path, summary: `Delete an ${kind}`, auth: 'any', params, status: 204,
      handler: async (c) => {
        const k = keyOf(c);
        requireClusterOrAdmin(c.principal, k.cluster, `delete ${plural}`);
        await c.store.delete(kind, egressKey(k), { ...(c.query.resourceVersion ? { expectedRv: c.query.resourceVersion } : {}), idem: c.idem });
        return undefined;
      },
    },
    {
      id: `list${kind === 'EgressPolicy' ? 'EgressPolicies' : kind === 'EgressClusterPolicy' ? 'EgressClusterPolicies' : `${kind}s`}`, method: 'GET', path: `/v1/${plural}`, summary: `List ${kind}s of all clusters (filter: ?cluster=)`, auth: 'any',
      query: { cluster: `only this cluster's ${plural}` }, status: 200, response: listOf(object),
      handler: (c) => {
        const cl = fromList(c.query.cluster);
        return c.store.list(kind, cl ? (o) => o.cluster === cl : undefined);
      },
    },
  ];
}

/**
 * The whole v1 API as data: the koa app registers these, and the OpenAPI document is generated from the same
 * table, so the two cannot drift. Handlers receive the body already validated by `body`.
 */
export const ROUTES: RouteSpec[] = ([
  // ------------------------------------------------------------------ tokens
  {
    id: 'createToken', method: 'POST', path: '/v1/tokens', summary: 'Create a join token (shown once)', auth: 'admin',
    body: TokenCreateRequest, status: 201, response: TokenCreated,
    handler: async (c) => {
      const b = c.body as z.output<typeof TokenCreateRequest>;
      const { token, secret } = await c.store.createToken(b.ttlSeconds, b.uses, b.description);
      return { id: token.id, token: secret, expiresAt: token.expiresAt, broker: c.brokerUrl, caHash: c.caHash };
    },
  },
  { id: 'listTokens', method: 'GET', path: '/v1/tokens', summary: 'List join tokens (never their secrets)', auth: 'admin', status: 200, response: listOf(Token), handler: (c) => c.store.listTokens() },
  {
    id: 'revokeToken', method: 'DELETE', path: '/v1/tokens/{id}', summary: 'Revoke a join token', auth: 'admin', params: { id: TokenId }, status: 204,
    handler: async (c) => {
      await c.store.revokeToken(c.params.id!);
      return undefined;
    },
  },
  // ------------------------------------------------------------------ clusters
  {
    id: 'joinCluster', method: 'POST', path: '/v1/clusters', summary: 'Register a new cluster (Bearer <join token>), or re-join a registered one proving it is that cluster (Bearer <its current credential>; same id and CIDRs, credential unchanged)', auth: 'join',
    body: ClusterJoinRequest, status: 201, response: ClusterJoined,
    handler: async (c) => {
      const b = c.body as z.output<typeof ClusterJoinRequest>;
      const req = { id: b.id, podCIDRs: b.podCIDRs, serviceCIDRs: b.serviceCIDRs, ...(b.labels ? { labels: b.labels } : {}) };
      // A cluster credential only ever re-joins its own cluster; only a join token registers a new one.
      const r = c.bearer?.startsWith('c.') ? await c.store.rejoinCluster(c.bearer, req) : await c.store.joinCluster(c.bearer ?? '', req, c.idem);
      c.onClusterGone(b.id);
      return { cluster: r.cluster, credentials: { token: r.credential } };
    },
  },
  {
    id: 'rotateClusterCredential', method: 'POST', path: '/v1/clusters/{id}/credentials', summary: 'Issue a new credential for a registered cluster (admin, e.g. when the cluster lost its Secret; or the cluster itself); the old one stops working at once', auth: 'any', params: CLUSTER,
    status: 201, response: ClusterJoined,
    handler: async (c) => {
      const id = c.params.id!;
      requireClusterOrAdmin(c.principal, id, 'rotate the credential');
      const r = await c.store.rotateCredential(id, c.idem);
      c.onClusterGone(id);
      return { cluster: r.cluster, credentials: { token: r.credential } };
    },
  },
  { id: 'listClusters', method: 'GET', path: '/v1/clusters', summary: 'List clusters', auth: 'any', status: 200, response: listOf(Cluster), handler: (c) => c.store.list('Cluster') },
  { id: 'getCluster', method: 'GET', path: '/v1/clusters/{id}', summary: 'Get a cluster', auth: 'any', params: CLUSTER, status: 200, response: Cluster, handler: (c) => c.store.get('Cluster', c.params.id!) },
  {
    id: 'patchCluster', method: 'PATCH', path: '/v1/clusters/{id}', summary: 'Change a cluster\'s labels (merge)', auth: 'any', params: CLUSTER, body: ClusterPatch, status: 200, response: Cluster,
    handler: (c) => {
      requireClusterOrAdmin(c.principal, c.params.id!, 'change the cluster object');
      const b = c.body as z.output<typeof ClusterPatch>;
      return c.store.update('Cluster', c.params.id!, (cur) => {
        const { resourceVersion: _rv, ...rest } = cur;
        return { ...rest, ...(b.labels ? { labels: { ...(cur.labels ?? {}), ...b.labels } } : {}) };
      }, b.resourceVersion, c.idem);
    },
  },
  {
    id: 'removeCluster', method: 'DELETE', path: '/v1/clusters/{id}', summary: 'Remove a cluster (its blocks, addresses and gateways are collected after a grace period)', auth: 'any', params: CLUSTER, status: 204,
    handler: async (c) => {
      requireClusterOrAdmin(c.principal, c.params.id!, 'remove');
      await c.store.removeCluster(c.params.id!, fromList(c.query.resourceVersion), c.idem);
      c.onClusterGone(c.params.id!);
      return undefined;
    },
  },
  {
    id: 'heartbeat', method: 'PUT', path: '/v1/clusters/{id}/heartbeat', summary: 'Record a heartbeat (marks the cluster Ready); nodes / addressOwners, when given, are the complete sets of live node names and address owners (leases of names missing longer than the grace are returned)', auth: 'any', params: CLUSTER, body: HeartbeatRequest, status: 200, response: Cluster,
    handler: (c) => {
      requireClusterOrAdmin(c.principal, c.params.id!, 'heartbeat');
      const b = c.body as z.output<typeof HeartbeatRequest>;
      return c.store.heartbeat(c.params.id!, { ...(b.nodes ? { nodes: b.nodes } : {}), ...(b.addressOwners ? { addressOwners: b.addressOwners } : {}) });
    },
  },
  // ------------------------------------------------------------------ gateways
  {
    id: 'putGateway', method: 'PUT', path: '/v1/clusters/{id}/gateways/{name}', summary: 'Create or replace a gateway of a cluster', auth: 'any', params: { ...CLUSTER, ...NAMED }, body: GatewayPut, status: 200, response: Gateway,
    handler: (c) => {
      const cluster = c.params.id!, name = c.params.name!;
      requireClusterOrAdmin(c.principal, cluster, 'write gateways');
      const b = c.body as z.output<typeof GatewayPut>;
      if ((b.cluster !== undefined && b.cluster !== cluster) || (b.name !== undefined && b.name !== name)) {
        throw new StraitError('INVALID_ARGUMENT', 'cluster and name in the body must match the path', { cluster: b.cluster, name: b.name });
      }
      const g: Omit<GatewayT, 'resourceVersion'> = {
        cluster, name, endpoints: b.endpoints.map(canonicalIp), tunnelTypes: b.tunnelTypes,
        publicKeys: b.publicKeys, priority: b.priority, health: b.health, ...(b.active !== undefined ? { active: b.active } : {}),
        updatedAt: new Date().toISOString(),
      };
      return c.store.put('Gateway', `${cluster}/${name}`, 'upsert', g, b.resourceVersion ?? '', { kind: 'Cluster', name: cluster }, false, c.idem);
    },
  },
  { id: 'getGateway', method: 'GET', path: '/v1/clusters/{id}/gateways/{name}', summary: 'Get a gateway', auth: 'any', params: { ...CLUSTER, ...NAMED }, status: 200, response: Gateway, handler: (c) => c.store.get('Gateway', `${c.params.id}/${c.params.name}`) },
  {
    id: 'deleteGateway', method: 'DELETE', path: '/v1/clusters/{id}/gateways/{name}', summary: 'Delete a gateway', auth: 'any', params: { ...CLUSTER, ...NAMED }, status: 204,
    handler: async (c) => {
      requireClusterOrAdmin(c.principal, c.params.id!, 'delete gateways');
      await c.store.delete('Gateway', `${c.params.id}/${c.params.name}`, { ...(c.query.resourceVersion ? { expectedRv: c.query.resourceVersion } : {}), idem: c.idem });
      return undefined;
    },
  },
  {
    id: 'listGateways', method: 'GET', path: '/v1/gateways', summary: 'List gateways of all clusters (filter: ?cluster=)', auth: 'any', query: { cluster: 'only this cluster\'s gateways' }, status: 200, response: listOf(Gateway),
    handler: (c) => {
      const cl = fromList(c.query.cluster);
      return c.store.list('Gateway', cl ? (g) => g.cluster === cl : undefined);
    },
  },
  // ------------------------------------------------------------------ egress objects (pushed by member agents)
  ...egressRoutes('EgressGateway', 'egressgateways', EgressGatewayPut, BrokerEgressGateway, false),
  ...egressRoutes('EgressPolicy', 'egresspolicies', EgressPolicyPut, BrokerEgressPolicy, true),
  ...egressRoutes('EgressClusterPolicy', 'egressclusterpolicies', EgressClusterPolicyPut, BrokerEgressClusterPolicy, false),
  // ------------------------------------------------------------------ subnets
  {
    id: 'createSubnet', method: 'POST', path: '/v1/subnets', summary: 'Create a global subnet', auth: 'admin', body: SubnetCreate, status: 201, response: Subnet,
    handler: (c) => {
      const b = c.body as z.output<typeof SubnetCreate>;
      return c.store.createSubnet({ name: b.name, cidr: b.cidr, ...(b.description !== undefined ? { description: b.description } : {}) }, c.idem);
    },
  },
  { id: 'listSubnets', method: 'GET', path: '/v1/subnets', summary: 'List subnets', auth: 'any', status: 200, response: listOf(Subnet), handler: (c) => c.store.list('Subnet') },
  { id: 'getSubnet', method: 'GET', path: '/v1/subnets/{name}', summary: 'Get a subnet', auth: 'any', params: NAMED, status: 200, response: Subnet, handler: (c) => c.store.get('Subnet', c.params.name!) },
  {
    id: 'putSubnet', method: 'PUT', path: '/v1/subnets/{name}', summary: 'Change a subnet\'s description (cidr is fixed)', auth: 'admin', params: NAMED, body: SubnetPut, status: 200, response: Subnet,
    handler: (c) => {
      const b = c.body as z.output<typeof SubnetPut>;
      const name = putName(c, b.name);
      return c.store.update('Subnet', name, (cur) => {
        if (b.cidr !== undefined && b.cidr !== cur.cidr) throw new StraitError('IMMUTABLE_FIELD', `subnet ${name}: cidr ${cur.cidr} cannot change (to ${b.cidr})`, { field: 'cidr' });
        const { resourceVersion: _rv, description: _d, ...rest } = cur;
        return { ...rest, ...(b.description !== undefined ? { description: b.description } : {}) };
      }, b.resourceVersion, c.idem);
    },
  },
  {
    id: 'deleteSubnet', method: 'DELETE', path: '/v1/subnets/{name}', summary: 'Delete a subnet (refused while it has pools)', auth: 'admin', params: NAMED, status: 204,
    handler: async (c) => {
      await c.store.deleteSubnet(c.params.name!, fromList(c.query.resourceVersion), c.idem);
      return undefined;
    },
  },
  // ------------------------------------------------------------------ pools
  {
    id: 'createPool', method: 'POST', path: '/v1/ippools', summary: 'Create an IP pool with its allocation rules (ips, excludeIPs, gateway, routes, vlan, affinities, default, disable; checked as the node agents check them; must not overlap another pool; inside its subnet if one is named). A cluster credential creates pools owned by its cluster (cluster defaults to the caller)', auth: 'any', body: IPPoolCreate, status: 201, response: IPPool,
    handler: (c) => {
      const b = c.body as z.output<typeof IPPoolCreate>;
      const cluster = b.cluster ?? (c.principal.kind === 'cluster' ? c.principal.cluster : undefined);
      if (cluster !== undefined) requireClusterOrAdmin(c.principal, cluster, 'create pools');
      return c.store.createPool({ name: b.name, cidr: b.cidr, purpose: b.purpose, ...(b.blockSize !== undefined ? { blockSize: b.blockSize } : {}), ...(b.subnet !== undefined ? { subnet: b.subnet } : {}), ...(b.description !== undefined ? { description: b.description } : {}), ...(cluster !== undefined ? { cluster } : {}), ...rulesOf(b) }, c.idem);
    },
  },
  { id: 'listPools', method: 'GET', path: '/v1/ippools', summary: 'List IP pools (filter: ?cluster= owner)', auth: 'any', query: { cluster: 'only pools owned by this cluster' }, status: 200, response: listOf(IPPool), handler: (c) => {
    const cl = fromList(c.query.cluster);
    return c.store.list('IPPool', cl ? (p) => p.cluster === cl : undefined);
  } },
  { id: 'getPool', method: 'GET', path: '/v1/ippools/{name}', summary: 'Get an IP pool', auth: 'any', params: NAMED, status: 200, response: IPPool, handler: (c) => c.store.get('IPPool', c.params.name!) },
  {
    id: 'putPool', method: 'PUT', path: '/v1/ippools/{name}', summary: 'Change a pool\'s purpose, description and allocation rules (the rules are replaced as a whole; cidr, blockSize, subnet and cluster are fixed); a cluster only its own pools', auth: 'any', params: NAMED, body: IPPoolPut, status: 200, response: IPPool,
    handler: (c) => {
      const b = c.body as z.output<typeof IPPoolPut>;
      const name = putName(c, b.name);
      // The owner is checked on the stored object inside the CAS loop: the write is refused if the pool changed since.
      return c.store.update('IPPool', name, (cur) => {
        requirePoolOwner(c.principal, cur, 'change');
        for (const f of ['cidr', 'blockSize', 'subnet', 'cluster'] as const) {
          if (b[f] !== undefined && b[f] !== cur[f]) throw new StraitError('IMMUTABLE_FIELD', `pool ${name}: ${f} cannot change`, { field: f });
        }
        const { resourceVersion: _rv, description: _d, ...rest } = cur;
        for (const f of POOL_RULE_FIELDS) delete rest[f];
        // The rules are replaced as a whole and checked as every node agent will check them.
        const next = { ...rest, ...(b.purpose ? { purpose: b.purpose } : {}), ...(b.description !== undefined ? { description: b.description } : cur.description !== undefined ? { description: cur.description } : {}), ...rulesOf(b) };
        checkPoolRules(next);
        return next;
      }, b.resourceVersion, c.idem);
    },
  },
  {
    id: 'deletePool', method: 'DELETE', path: '/v1/ippools/{name}', summary: 'Delete a pool (refused while it has leases); a cluster only its own pools', auth: 'any', params: NAMED, status: 204,
    handler: async (c) => {
      await c.store.deletePool(c.params.name!, fromList(c.query.resourceVersion), (p) => requirePoolOwner(c.principal, p, 'delete'), c.idem);
      return undefined;
    },
  },
  {
    id: 'leaseBlock', method: 'POST', path: '/v1/ippools/{name}/blocks', summary: 'Lease the next free block of a pool to a node of a cluster ({cluster, node} → Block); batch: {cluster, nodes:[…≤256]} → {items, resourceVersion}, one block per entry, all or nothing in one atomic step', auth: 'any', params: NAMED,
    body: z.union([BlockLeaseRequest, BlockBatchLeaseRequest]), status: 201, response: z.union([Block, listOf(Block)]),
    handler: (c) => {
      const b = c.body as z.output<typeof BlockLeaseRequest> | z.output<typeof BlockBatchLeaseRequest>;
      requireClusterOrAdmin(c.principal, b.cluster, 'lease blocks');
      return 'nodes' in b ? c.store.leaseBlocks(c.params.name!, b.cluster, b.nodes, c.idem) : c.store.leaseBlock(c.params.name!, b.cluster, b.node, c.idem);
    },
  },
  {
    id: 'listBlocks', method: 'GET', path: '/v1/blocks', summary: 'List leased blocks (filters: ?cluster=, ?pool=)', auth: 'any', query: { cluster: 'only this cluster\'s blocks', pool: 'only this pool\'s blocks' }, status: 200, response: listOf(Block),
    handler: (c) => c.store.list('Block', byClusterAndPool(c.query)),
  },
  {
    id: 'releaseBlock', method: 'DELETE', path: '/v1/blocks/{id}', summary: 'Return a block', auth: 'any', params: { id: BlockId }, status: 204,
    handler: async (c) => {
      await c.store.releaseBlock(c.params.id!, c.principal.kind === 'cluster' ? c.principal.cluster : '', c.idem);
      return undefined;
    },
  },
  {
    id: 'leaseAddress', method: 'POST', path: '/v1/ippools/{name}/addresses', summary: 'Lease one address (egress IPs); the same owner gets the same address ({owner} → AddressLease); batch: {owners:[…≤256]} → {items, resourceVersion} in owner order, all or nothing in one atomic step', auth: 'any', params: NAMED,
    body: z.union([AddressLeaseRequest, AddressBatchLeaseRequest]), status: 201, response: z.union([AddressLease, listOf(AddressLease)]),
    handler: (c) => {
      const b = c.body as z.output<typeof AddressLeaseRequest> | z.output<typeof AddressBatchLeaseRequest>;
      const cluster = b.cluster ?? (c.principal.kind === 'cluster' ? c.principal.cluster : undefined);
      if (!cluster) throw new StraitError('INVALID_ARGUMENT', 'cluster is required when the admin leases an address', { field: 'cluster' });
      requireClusterOrAdmin(c.principal, cluster, 'lease addresses');
      // ReservedIPs in this pool are skipped (an egress IP must never be a router's or a VIP's address): the lease
      // script reads their offsets itself (lease-addresses.lua), so a lease is one call to Redis.
      const name = c.params.name!;
      if ('owners' in b) return c.store.leaseAddresses(name, b.owners, cluster, c.idem);
      return c.store.leaseAddress(name, b.owner, cluster, c.idem).then((r) => r.lease);
    },
  },
  {
    id: 'listAddresses', method: 'GET', path: '/v1/addresses', summary: 'List leased addresses (filters: ?cluster=, ?pool=)', auth: 'any', query: { cluster: 'only this cluster\'s addresses', pool: 'only this pool\'s addresses' }, status: 200, response: listOf(AddressLease),
    handler: (c) => c.store.list('AddressLease', byClusterAndPool(c.query)),
  },
  {
    id: 'releaseAddress', method: 'DELETE', path: '/v1/addresses/{ip}', summary: 'Return an address', auth: 'any', params: { ip: IpAddress }, status: 204,
    handler: async (c) => {
      await c.store.releaseAddress(canonicalIp(c.params.ip!), c.principal.kind === 'cluster' ? c.principal.cluster : '', c.idem);
      return undefined;
    },
  },
  // ------------------------------------------------------------------ reserved IPs
  {
    id: 'putReservedIP', method: 'PUT', path: '/v1/reservedips/{name}', summary: 'Create or replace a ReservedIP {ips, reason?, cluster?}: addresses no node agent hands out; each must lie in a pool (400 INVALID_RESERVED_IP otherwise). A cluster credential writes only its own (cluster defaults to the caller; the owner cannot change)', auth: 'any', params: NAMED, body: ReservedIPPut, status: 200, response: ReservedIP,
    handler: async (c) => {
      const b = c.body as z.output<typeof ReservedIPPut>;
      const name = c.params.name!;
      const cluster = b.cluster ?? (c.principal.kind === 'cluster' ? c.principal.cluster : undefined);
      if (cluster !== undefined) requireClusterOrAdmin(c.principal, cluster, 'write reserved IPs');
      const cur = await c.store.get('ReservedIP', name).catch((e: unknown) => {
        if (e instanceof StraitError && e.code === 'NOT_FOUND') return undefined;
        throw e;
      });
      if (cur) {
        requirePoolOwner(c.principal, cur, 'change reserved IP');
        if (cur.cluster !== cluster) throw new StraitError('IMMUTABLE_FIELD', `reserved IP ${name}: the owner (${cur.cluster ?? 'admin'}) cannot change`, { field: 'cluster' });
      }
      const pools = poolsOfReserved(name, b.ips, (await c.store.list('IPPool')).items);
      // createdAt goes first: the put script keeps the stored one when it replaces an object.
      const obj = { createdAt: new Date().toISOString(), name, ips: b.ips, ...(b.reason !== undefined ? { reason: b.reason } : {}), ...(cluster !== undefined ? { cluster } : {}), pools };
      // A CAS on what was checked: the owner seen above is the owner written over.
      return c.store.put('ReservedIP', name, cur ? 'update' : 'create', obj, b.resourceVersion ?? cur?.resourceVersion ?? '', cluster !== undefined ? { kind: 'Cluster', name: cluster } : undefined, true, c.idem);
    },
  },
  { id: 'listReservedIPs', method: 'GET', path: '/v1/reservedips', summary: 'List ReservedIPs (filter: ?cluster= owner)', auth: 'any', query: { cluster: 'only reserved IPs owned by this cluster' }, status: 200, response: listOf(ReservedIP), handler: (c) => {
    const cl = fromList(c.query.cluster);
    return c.store.list('ReservedIP', cl ? (r) => r.cluster === cl : undefined);
  } },
  { id: 'getReservedIP', method: 'GET', path: '/v1/reservedips/{name}', summary: 'Get a ReservedIP', auth: 'any', params: NAMED, status: 200, response: ReservedIP, handler: (c) => c.store.get('ReservedIP', c.params.name!) },
  {
    id: 'deleteReservedIP', method: 'DELETE', path: '/v1/reservedips/{name}', summary: 'Delete a ReservedIP; a cluster only its own', auth: 'any', params: NAMED, status: 204,
    handler: async (c) => {
      const cur = await c.store.get('ReservedIP', c.params.name!);
      requirePoolOwner(c.principal, cur, 'delete reserved IP');
      await c.store.delete('ReservedIP', c.params.name!, { expectedRv: fromList(c.query.resourceVersion) ?? cur.resourceVersion, idem: c.idem });
      return undefined;
    },
  },
  // ------------------------------------------------------------------ served by the app itself
  { id: 'watch', method: 'GET', path: '/v1/watch', summary: 'Stream events with resourceVersion > since as NDJSON (WatchEvent per line; BOOKMARK every few seconds; 410 WATCH_EXPIRED when since is compacted)', auth: 'any', query: { since: 'resourceVersion to resume after (default: now)' }, status: 200 },
  { id: 'caCert', method: 'GET', path: '/v1/ca.crt', summary: 'The broker CA certificate (PEM) for pinning against a join token\'s caHash (404 without TLS)', auth: 'none', status: 200 },
  { id: 'openapi', method: 'GET', path: '/v1/openapi.json', summary: 'This API as an OpenAPI 3.0 document', auth: 'none', status: 200 },
  { id: 'healthz', method: 'GET', path: '/healthz', summary: 'Liveness', auth: 'none', status: 200, response: Health },
  { id: 'readyz', method: 'GET', path: '/readyz', summary: 'Readiness: Redis reachable', auth: 'none', status: 200, response: Health },
  { id: 'metrics', method: 'GET', path: '/metrics', summary: 'Prometheus metrics', auth: 'none', status: 200 },
] satisfies RouteSpec[]).map(withParams);
