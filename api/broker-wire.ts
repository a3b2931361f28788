import { z } from 'zod';
import { cidrProblem, EgressClusterPolicySpec, EgressGatewaySpec, EgressPolicySpec, ipProblem, IPPoolRules as CrdPoolRules, refineWith, ReservedIPList } from '../crds/index.js';

/**
 * The broker's REST wire types (v1). Request schemas are strict (unknown fields are refused, so a typo such as
 * `podCidrs` is an error instead of a silent no-op); object schemas describe what the broker answers.
 * Every stored object carries `resourceVersion`: the global revision of its last write, as a decimal string
 * (Kubernetes style), which is also the position in the watch stream.
 */

/**
 * True for a canonical CIDR (`10.0.0.0/8`, `fd00::/64`) in the one strict grammar of crds/ip-text.ts: no leading
 * zeros, no IPv4-mapped IPv6, no host bits.
 */
export function isCanonicalCidr(s: string): boolean {
  return cidrProblem(s) === undefined;
}

/** True for a plain IPv4 or IPv6 address in the same strict grammar. */
export function isIpAddress(s: string): boolean {
  return ipProblem(s) === undefined;
}

// --------------------------------------------------------------------------------------- building blocks
/** DNS-label-like names: lower case, digits, '-' and '.', 1..63 characters, alphanumeric at both ends. */
export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;
export const Name = z.string().regex(NAME_PATTERN, { message: 'must be 1-63 characters of a-z, 0-9, "-" and ".", alphanumeric at both ends' });
/** A canonical CIDR (no host bits, e.g. 10.0.0.0/16); the refusal carries INVALID_CIDR and says what is wrong. */
export const Cidr = z.string().superRefine(refineWith((s) => cidrProblem(s)));
/**
 * A CIDR addresses are handed out from or claimed (pool, subnet, a cluster's pod/service CIDRs): also refuses
 * special-purpose ranges (0.0.0.0/0, ::/0, loopback, link-local, multicast, broadcast; SPECIAL_PURPOSE_ADDRESS).
 */
export const AllocatableCidr = z.string().superRefine(refineWith((s) => cidrProblem(s, { allocatable: true })));
// The metadata only describes it in the OpenAPI document (an address is at most 45 characters); the refinement decides.
export const IpAddress = z.string().superRefine(refineWith((s) => ipProblem(s))).meta({ maxLength: 45, description: 'an IPv4 (dotted quad, no leading zeros) or IPv6 address' });
/** An address other hosts reach (gateway endpoint): not unspecified, multicast or broadcast. */
export const EndpointAddress = z.string().superRefine(refineWith((s) => ipProblem(s, { unicast: true })));
export const ResourceVersion = z.string().regex(/^\d{1,18}$/, { message: 'resourceVersion is a decimal string' });
export const Labels = z.record(z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9_./]{0,62}$/), z.string().max(253)).refine((o) => Object.keys(o).length <= 64, { message: 'at most 64 labels' });
const Description = z.string().max(1024);
const Timestamp = z.string();
/** Free-form owner of an address lease (e.g. `ns/pod/eth0` or `egress/<policy>`); printable, no spaces. */
export const Owner = z.string().regex(/^[\x21-\x7e]{1,253}$/, { message: 'owner is 1-253 printable ASCII characters without spaces' });

// --------------------------------------------------------------------------------------- tokens
export const TokenCreateRequest = z.strictObject({
  ttlSeconds: z.number().int().min(1).max(366 * 86400).default(86400),
  uses: z.number().int().min(1).max(100000).default(1),
  description: Description.optional(),
});
export const Token = z.object({
  id: z.string(),
  description: z.string().optional(),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  uses: z.number().int(),
  used: z.number().int(),
});
export const TokenCreated = z.object({
  id: z.string(),
  /** `<id>.<secret>`: shown once, stored only hashed. */
  token: z.string(),
  expiresAt: Timestamp,
  broker: z.string(),
  /** `sha256:<hex>` of the broker CA certificate (DER), or '' when the broker runs without TLS. */
  caHash: z.string(),
});

// --------------------------------------------------------------------------------------- clusters
export const ClusterStatus = z.enum(['Ready', 'NotReady']);
export const Cluster = z.object({
  id: z.string(),
  podCIDRs: z.array(z.string()),
  serviceCIDRs: z.array(z.string()),
  labels: z.record(z.string(), z.string()).optional(),
  status: ClusterStatus,
  joinedAt: Timestamp,
  lastHeartbeat: Timestamp,
  resourceVersion: z.string(),
});
export const ClusterJoinRequest = z.strictObject({
  id: Name,
  podCIDRs: z.array(AllocatableCidr).min(1).max(16),
  serviceCIDRs: z.array(AllocatableCidr).max(16).default([]),
  labels: Labels.optional(),
});
export const ClusterJoined = z.object({ cluster: Cluster, credentials: z.object({ token: z.string() }) });
export const ClusterPatch = z.strictObject({ labels: Labels.optional(), resourceVersion: ResourceVersion.optional() });
/** Most node names / address owners one heartbeat may report (the heartbeat body limit is 1 MiB). */
export const MAX_HEARTBEAT_NODES = 10_000;
export const MAX_HEARTBEAT_OWNERS = 10_000;
/** Kubernetes node names (DNS subdomain, up to 253 characters). */
export const NodeName = z.string().max(253).regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, { message: 'must be a Kubernetes node name (a-z, 0-9, "-" and ".", at most 253)' });
/**
 * `nodes` / `addressOwners`, when present, are the COMPLETE sets of the cluster's live node names and of the live
 * owners of its address leases: the broker returns blocks of nodes and addresses of owners missing from them for
 * longer than its grace period. Absent: unknown, nothing is collected (older agents send neither).
 */
export const HeartbeatRequest = z.strictObject({
  resourceVersion: ResourceVersion.optional(),
  nodes: z.array(NodeName).max(MAX_HEARTBEAT_NODES).optional(),
  addressOwners: z.array(Owner).max(MAX_HEARTBEAT_OWNERS).optional(),
});

// --------------------------------------------------------------------------------------- global IPAM
export const Subnet = z.object({
  name: z.string(),
  cidr: z.string(),
  description: z.string().optional(),
  createdAt: Timestamp,
  resourceVersion: z.string(),
});
export const SubnetCreate = z.strictObject({ name: Name, cidr: AllocatableCidr, description: Description.optional() });
/** PUT replaces the mutable fields; `cidr` may be repeated but not changed. */
export const SubnetPut = z.strictObject({ name: Name.optional(), cidr: Cidr.optional(), description: Description.optional(), resourceVersion: ResourceVersion.optional() });

export const PoolPurpose = z.enum(['pods', 'egress', 'services']);
/**
 * The allocation rules a pool carries to every cluster's node agents (ips, excludeIPs, gateway, routes, vlan,
 * namespace/node/pod affinity, default, disable): the IPPool CRD's own field schemas (crds/ipam-kinds.ts), and the
 * broker checks the whole pool with the node agents' pool validation (ipam/pool-validation.ts), so a pool the
 * broker stores is one every node agent accepts.
 */
export const IPPoolRules = CrdPoolRules;
export const IPPool = z.object({
  name: z.string(),
  cidr: z.string(),
  /** Prefix length of the blocks leased to nodes (e.g. 26 for /26 blocks in an IPv4 pool). */
  blockSize: z.number().int(),
  subnet: z.string().optional(),
  purpose: PoolPurpose,
  description: z.string().optional(),
  /** The member cluster that owns the pool (only it and the admin may change or delete it); absent: an admin pool. */
  cluster: z.string().optional(),
  ...IPPoolRules.shape,
  createdAt: Timestamp,
  resourceVersion: z.string(),
});
export const IPPoolCreate = z.strictObject({
  name: Name,
  cidr: AllocatableCidr,
  blockSize: z.number().int().min(1).max(128).optional(),
  subnet: Name.optional(),
  purpose: PoolPurpose.default('pods'),
  description: Description.optional(),
  /** Owner cluster; a cluster credential may only name itself (and gets itself when it omits this). */
  cluster: Name.optional(),
  ...IPPoolRules.shape,
});
/**
 * PUT changes purpose, description and the allocation rules. The rules are replaced as a whole (a rule left out is
 * removed, so a mirror can drop `ips`); purpose and description left out stay as they are.
 */
export const IPPoolPut = z.strictObject({
  name: Name.optional(),
  cidr: Cidr.optional(),
  blockSize: z.number().int().min(1).max(128).optional(),
  subnet: Name.optional(),
  purpose: PoolPurpose.optional(),
  description: Description.optional(),
  /** The owner may be repeated but not changed. */
  cluster: Name.optional(),
  ...IPPoolRules.shape,
  resourceVersion: ResourceVersion.optional(),
});
/** The allocation-rule fields of a pool, by name (the broker's PUT replaces exactly these). */
export const POOL_RULE_FIELDS = Object.keys(IPPoolRules.shape) as (keyof z.infer<typeof IPPoolRules>)[];

/**
 * Addresses no node agent ever hands out (routers, VIPs, hosts outside Kubernetes). Owned like a pool: by a cluster
 * (it writes only its own) or by the admin. Every address must lie in a pool; `pools` names the pools they fall in,
 * as the broker found them when the object was written.
 */
export const ReservedIP = z.object({
  name: z.string(),
  ips: z.array(z.string()),
  reason: z.string().optional(),
  cluster: z.string().optional(),
  pools: z.array(z.string()),
  createdAt: Timestamp,
  resourceVersion: z.string(),
});
/** PUT creates or replaces; `cluster` (the owner) defaults to the caller's cluster and cannot change. */
export const ReservedIPPut = z.strictObject({
  ips: ReservedIPList,
  reason: Description.optional(),
  cluster: Name.optional(),
  resourceVersion: ResourceVersion.optional(),
});

export const Block = z.object({
  id: z.string(),
  pool: z.string(),
  cidr: z.string(),
  cluster: z.string(),
  node: z.string(),
  createdAt: Timestamp,
  resourceVersion: z.string(),
});
export const BlockLeaseRequest = z.strictObject({ cluster: Name, node: Name });
/** Most leases one batch request may take. */
export const MAX_BATCH_LEASES = 256;
/** Batch form of POST /v1/ippools/{name}/blocks: one block per entry of `nodes` (a node may appear more than once). */
export const BlockBatchLeaseRequest = z.strictObject({ cluster: Name, nodes: z.array(Name).min(1).max(MAX_BATCH_LEASES) });

export const AddressLease = z.object({
  ip: z.string(),
  pool: z.string(),
  owner: z.string(),
  cluster: z.string(),
  createdAt: Timestamp,
  resourceVersion: z.string(),
});
/** `cluster` defaults to the caller's cluster; admins must name one. Leasing twice for one owner returns the same IP. */
export const AddressLeaseRequest = z.strictObject({ owner: Owner, cluster: Name.optional() });
/**
 * Batch form of POST /v1/ippools/{name}/addresses: one address per owner, all or nothing, owner-idempotent (an owner
 * that already holds an address of the pool gets it back; an owner listed twice gets one address).
 */
export const AddressBatchLeaseRequest = z.strictObject({ owners: z.array(Owner).min(1).max(MAX_BATCH_LEASES), cluster: Name.optional() });

// --------------------------------------------------------------------------------------- gateways
export const TunnelType = z.enum(['vxlan', 'geneve', 'wireguard', 'ipsec']);
export const GatewayHealth = z.enum(['Healthy', 'Degraded', 'Unhealthy', 'Unknown']);
export const PublicKeys = z.strictObject({ wireguard: z.string().max(256).optional(), ipsec: z.string().max(8192).optional() });
export const Gateway = z.object({
  cluster: z.string(),
  name: z.string(),
  endpoints: z.array(z.string()),
  tunnelTypes: z.array(TunnelType),
  publicKeys: z.object({ wireguard: z.string().optional(), ipsec: z.string().optional() }),
  priority: z.number().int(),
  health: GatewayHealth,
  /** This candidate holds its cluster's gateway lease (serves the role) right now, as its agent last published. */
  active: z.boolean().optional(),
  updatedAt: Timestamp,
  resourceVersion: z.string(),
});
/** PUT body; `cluster`/`name` may be repeated (must match the path), `updatedAt` is set by the broker. */
export const GatewayPut = z.strictObject({
  cluster: Name.optional(),
  name: Name.optional(),
  endpoints: z.array(EndpointAddress).min(1).max(16),
  tunnelTypes: z.array(TunnelType).min(1).max(4),
  publicKeys: PublicKeys.default({}),
  priority: z.number().int().min(0).max(1_000_000).default(100),
  health: GatewayHealth.default('Unknown'),
  active: z.boolean().optional(),
  updatedAt: Timestamp.max(64).optional(),
  resourceVersion: ResourceVersion.optional(),
});

// --------------------------------------------------------------------------------------- egress objects
/**
 * A member cluster's own EgressGateways, EgressPolicies and EgressClusterPolicies, pushed by its member agent and
 * read by gateway agents. `spec` is validated with the CRD spec schema of the kind (crds/egress-kinds.ts), so the
 * broker holds exactly what the CRD would accept (defaults filled in; the CRD's CEL rules are the API server's).
 */
/** Kubernetes object names (DNS subdomain, up to 253 characters). */
export const EgressObjectName = z.string().max(253).regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, { message: 'must be a Kubernetes object name (a-z, 0-9, "-" and ".", alphanumeric at both ends, at most 253)' });
/** Kubernetes namespace names (DNS label, up to 63 characters). */
export const NamespaceName = z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a namespace name (DNS label)' });
const egressPut = <S extends z.ZodType>(spec: S) => z.strictObject({ spec, labels: Labels.optional(), resourceVersion: ResourceVersion.optional() });
export const EgressGatewayPut = egressPut(EgressGatewaySpec);
export const EgressPolicyPut = egressPut(EgressPolicySpec);
export const EgressClusterPolicyPut = egressPut(EgressClusterPolicySpec);
const egressObject = <S extends z.ZodType>(spec: S) => z.object({
  cluster: z.string(),
  name: z.string(),
  spec,
  labels: z.record(z.string(), z.string()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  resourceVersion: z.string(),
});
export const BrokerEgressGateway = egressObject(EgressGatewaySpec);
export const BrokerEgressPolicy = egressObject(EgressPolicySpec).extend({ namespace: z.string() });
export const BrokerEgressClusterPolicy = egressObject(EgressClusterPolicySpec);

// --------------------------------------------------------------------------------------- lists and watch
export const KIND_NAMES = ['Cluster', 'Subnet', 'IPPool', 'Block', 'AddressLease', 'Gateway', 'EgressGateway', 'EgressPolicy', 'EgressClusterPolicy', 'ReservedIP'] as const;
export const Kind = z.enum(KIND_NAMES);
export const EventType = z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);
export const WatchEvent = z.object({
  type: EventType,
  /** One of KIND_NAMES, or 'Bookmark' for bookmarks (whose object is `{}`). */
  kind: z.string(),
  object: z.record(z.string(), z.unknown()),
  resourceVersion: z.string(),
});
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), resourceVersion: z.string() });
}
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});
export const Health = z.object({ status: z.string() });

// --------------------------------------------------------------------------------------- TS types
export type TokenCreateRequest = z.input<typeof TokenCreateRequest>;
export type Token = z.infer<typeof Token>;
export type TokenCreated = z.infer<typeof TokenCreated>;
export type ClusterStatus = z.infer<typeof ClusterStatus>;
export type Cluster = z.infer<typeof Cluster>;
export type ClusterJoinRequest = z.input<typeof ClusterJoinRequest>;
export type ClusterJoined = z.infer<typeof ClusterJoined>;
export type ClusterPatch = z.input<typeof ClusterPatch>;
export type HeartbeatRequest = z.input<typeof HeartbeatRequest>;
export type Subnet = z.infer<typeof Subnet>;
export type SubnetCreate = z.input<typeof SubnetCreate>;
export type SubnetPut = z.input<typeof SubnetPut>;
export type PoolPurpose = z.infer<typeof PoolPurpose>;
export type IPPoolRules = z.infer<typeof IPPoolRules>;
export type IPPool = z.infer<typeof IPPool>;
export type IPPoolCreate = z.input<typeof IPPoolCreate>;
export type IPPoolPut = z.input<typeof IPPoolPut>;
export type Block = z.infer<typeof Block>;
export type ReservedIP = z.infer<typeof ReservedIP>;
export type ReservedIPPut = z.input<typeof ReservedIPPut>;
export type BlockLeaseRequest = z.input<typeof BlockLeaseRequest>;
export type AddressLease = z.infer<typeof AddressLease>;
export type AddressLeaseRequest = z.input<typeof AddressLeaseRequest>;
export type AddressBatchLeaseRequest = z.input<typeof AddressBatchLeaseRequest>;
export type BlockBatchLeaseRequest = z.input<typeof BlockBatchLeaseRequest>;
export type TunnelType = z.infer<typeof TunnelType>;
export type GatewayHealth = z.infer<typeof GatewayHealth>;
export type Gateway = z.infer<typeof Gateway>;
export type GatewayPut = z.input<typeof GatewayPut>;
export type EgressGatewayPut = z.input<typeof EgressGatewayPut>;
export type EgressPolicyPut = z.input<typeof EgressPolicyPut>;
export type EgressClusterPolicyPut = z.input<typeof EgressClusterPolicyPut>;
export type BrokerEgressGateway = z.infer<typeof BrokerEgressGateway>;
export type BrokerEgressPolicy = z.infer<typeof BrokerEgressPolicy>;
export type BrokerEgressClusterPolicy = z.infer<typeof BrokerEgressClusterPolicy>;
export type Kind = z.infer<typeof Kind>;
export type EventType = z.infer<typeof EventType>;
export interface WatchEvent<T = Record<string, unknown>> {
  type: EventType;
  kind: Kind | 'Bookmark';
  object: T;
  resourceVersion: string;
}
export interface List<T> {
  items: T[];
  resourceVersion: string;
}
export type KindObject = Cluster | Subnet | IPPool | Block | AddressLease | Gateway | BrokerEgressGateway | BrokerEgressPolicy | BrokerEgressClusterPolicy | ReservedIP;
