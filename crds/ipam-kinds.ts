import { z } from 'zod';
import { AllocatableCidr, Cidr, Ip, IpRange, LabelSelector, ObjectName, StatusBase } from './common-schemas.js';
import { ageColumn, defineKind, readyColumn, syncedColumn } from './kind-definition.js';

export const IPAM_GROUP = 'ipam.strait.io';
export const IPAM_VERSION = 'v1alpha1';

// ------------------------------------------------------------------------------------------------ Subnet
export const Route = z.strictObject({ dst: Cidr, gw: Ip.optional() });

/** Mirrors the broker's Subnet (cidr, description); gateway, routes, vlan and exclusions are this cluster's own. */
export const SubnetSpec = z.object({
  cidr: AllocatableCidr.describe('the network, e.g. 10.128.0.0/14; pools naming this subnet draw from it'),
  description: z.string().max(1024).optional(),
  gateway: Ip.optional().describe('default gateway handed to pods in this subnet (never handed out). Default: its first host address (none for /31, /32)'),
  routes: z.array(Route).optional(),
  vlan: z.number().int().min(0).max(4094).optional(),
  excludeIPs: z.array(IpRange).optional().describe('addresses, CIDRs or first-last ranges never handed out'),
});
export const SubnetStatus = StatusBase.extend({
  brokerResourceVersion: z.string().optional().describe('resourceVersion of the broker object last applied'),
});
export const SubnetKind = defineKind({
  group: IPAM_GROUP, version: IPAM_VERSION, kind: 'Subnet', plural: 'subnets', shortNames: ['ssn'], scope: 'Cluster',
  description: 'A network from which Strait pools draw addresses; global Subnets come from the broker.',
  spec: SubnetSpec, status: SubnetStatus,
  specValidations: [{ rule: '!has(self.gateway) || cidr(self.cidr).containsIP(self.gateway)', message: 'gateway must lie inside cidr' }],
  printerColumns: [
    { name: 'CIDR', type: 'string', jsonPath: '.spec.cidr' },
    { name: 'Gateway', type: 'string', jsonPath: '.spec.gateway', priority: 1 },
    readyColumn, syncedColumn, ageColumn,
  ],
});
export type SubnetSpec = z.infer<typeof SubnetSpec>;
export type SubnetStatus = z.infer<typeof SubnetStatus>;

// ------------------------------------------------------------------------------------------------ IPPool
/** The allocation rules of a pool, applied by the node agents; the broker's pool carries the same fields. */
const poolRuleFields = {
  ips: z.array(IpRange).optional().describe('only these addresses (single IPs or first-last ranges); the whole cidr when empty'),
  excludeIPs: z.array(IpRange).optional().describe('addresses (single IPs or first-last ranges) never handed out'),
  gateway: Ip.optional().describe('default gateway handed to pods (inside cidr; never handed out). Default: the first host address of cidr (none for /31, /32)'),
  routes: z.array(Route).optional(),
  vlan: z.number().int().min(0).max(4094).optional(),
  namespaceAffinity: LabelSelector.optional().describe('only pods of namespaces with these labels (kubernetes.io/metadata.name is the name)'),
  nodeAffinity: LabelSelector.optional().describe('only pods on nodes with these labels'),
  podAffinity: LabelSelector.optional().describe('only pods with these labels'),
};
const DEFAULT_HELP = 'cluster default pool when no annotation, namespace or netconf picks one';
const DISABLE_HELP = 'hand out nothing new; existing addresses stay';

/** The rules as the broker's pool API takes them (`default`/`disable` absent means false). */
export const IPPoolRules = z.strictObject({
  ...poolRuleFields,
  default: z.boolean().optional().describe(DEFAULT_HELP),
  disable: z.boolean().optional().describe(DISABLE_HELP),
});

/**
 * Mirrors the broker's IPPool: cidr, blockSize, subnet, purpose, description and the allocation rules the node
 * agents apply (ips, exclusions, gateway, routes, vlan, affinity, default, disable). Strict: an unknown field is
 * refused (by the broker; the API server's strict field validation refuses what the schema does not name).
 */
export const IPPoolSpec = z.strictObject({
  cidr: AllocatableCidr.describe('the pool network; the broker leases blocks of it to nodes'),
  blockSize: z.number().int().min(1).max(128).optional().describe('prefix length of node blocks (default /26 for IPv4, /122 for IPv6; at most 16 host bits)'),
  subnet: ObjectName.optional().describe('name of the Subnet the pool belongs to'),
  purpose: z.enum(['pods', 'egress', 'services']).default('pods'),
  description: z.string().max(1024).optional(),
  ...poolRuleFields,
  default: z.boolean().default(false).describe(DEFAULT_HELP),
  disable: z.boolean().default(false).describe(DISABLE_HELP),
});
/** One node's share of a pool, written by that node's agent (each agent merge-patches only its own key). */
export const IPPoolNodeStatus = z.object({
  blocks: z.array(z.string()).default([]).describe("CIDRs of the pool's blocks leased to this node"),
  allocatedIPs: z.number().int().min(0).default(0).describe('addresses of the pool held on this node (parked StatefulSet addresses included)'),
});
export const IPPoolStatus = StatusBase.extend({
  brokerResourceVersion: z.string().optional(),
  totalIPs: z.number().int().min(0).optional().describe('addresses the pool can hand out (ips minus excludeIPs; written by the member agent)'),
  allocatedIPs: z.number().int().min(0).optional().describe("addresses held in this cluster: the sum of the nodes' allocatedIPs (written by the member agent)"),
  blocks: z.number().int().min(0).optional().describe("blocks of this pool leased to this cluster's nodes: the sum over nodes (written by the member agent)"),
  nodes: z.record(z.string(), IPPoolNodeStatus).optional().describe('per node name: its blocks and allocated addresses (written by each node agent; entries of deleted Nodes are removed by the member agent)'),
});
export const IPPoolKind = defineKind({
  group: IPAM_GROUP, version: IPAM_VERSION, kind: 'IPPool', plural: 'ippools', shortNames: ['sip'], scope: 'Cluster',
  description: 'A range of addresses leased in blocks to nodes, with affinity rules deciding which pods use it.',
  spec: IPPoolSpec, status: IPPoolStatus,
  printerColumns: [
    { name: 'CIDR', type: 'string', jsonPath: '.spec.cidr' },
    { name: 'Block', type: 'integer', jsonPath: '.spec.blockSize' },
    { name: 'Purpose', type: 'string', jsonPath: '.spec.purpose' },
    { name: 'Allocated', type: 'integer', jsonPath: '.status.allocatedIPs' },
    { name: 'Blocks', type: 'integer', jsonPath: '.status.blocks' },
    { name: 'Total', type: 'integer', jsonPath: '.status.totalIPs', priority: 1 },
    { name: 'Default', type: 'boolean', jsonPath: '.spec.default', priority: 1 },
    readyColumn, syncedColumn, ageColumn,
  ],
});
export type IPPoolSpec = z.infer<typeof IPPoolSpec>;
export type IPPoolStatus = z.infer<typeof IPPoolStatus>;

// ------------------------------------------------------------------------------------------------ ReservedIP
/** A ReservedIP's addresses: the broker's ReservedIP takes the same list. */
export const ReservedIPList = z.array(IpRange).min(1).max(256).describe('addresses no pod may get (single IPs or first-last ranges)');
export const ReservedIPSpec = z.object({
  ips: ReservedIPList,
  subnet: ObjectName.optional(),
  reason: z.string().max(1024).optional(),
});
export const ReservedIPStatus = StatusBase.extend({
  pools: z.array(z.string()).optional().describe('the pools the addresses fall in, as the broker found them (Ready=True: reserved there)'),
  owner: z.string().optional().describe('the cluster that owns the ReservedIP at the broker, or admin'),
  brokerResourceVersion: z.string().optional(),
});
export const ReservedIPKind = defineKind({
  group: IPAM_GROUP, version: IPAM_VERSION, kind: 'ReservedIP', plural: 'reservedips', shortNames: ['srip'], scope: 'Cluster',
  description: 'Addresses kept out of every pool (routers, VIPs, hosts outside Kubernetes).',
  spec: ReservedIPSpec, status: ReservedIPStatus,
  printerColumns: [
    { name: 'IPs', type: 'string', jsonPath: '.spec.ips' },
    { name: 'Pools', type: 'string', jsonPath: '.status.pools' },
    { name: 'Reason', type: 'string', jsonPath: '.spec.reason', priority: 1 },
    { name: 'Status', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
    readyColumn, syncedColumn, ageColumn,
  ],
});
export type ReservedIPSpec = z.infer<typeof ReservedIPSpec>;
export type ReservedIPStatus = z.infer<typeof ReservedIPStatus>;
export type IPPoolNodeStatus = z.infer<typeof IPPoolNodeStatus>;
