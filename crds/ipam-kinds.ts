import { z } from 'zod';
import { Cidr, ClusterId, Ip, IpRange, LabelSelector, ObjectName, Origin, StatusBase } from './common-schemas.js';
import { ageColumn, defineKind, readyColumn, syncedColumn } from './kind-definition.js';

export const IPAM_GROUP = 'ipam.strait.io';
export const IPAM_VERSION = 'v1alpha1';

// ------------------------------------------------------------------------------------------------ Subnet
export const SubnetSpec = z.object({
  cidr: Cidr.describe('the global network, e.g. 10.128.0.0/14; the broker leases blocks of it to clusters'),
  blockSize: z.number().int().min(8).max(128).default(26).describe('prefix length of the blocks leased to nodes'),
  gateway: Ip.optional().describe('default gateway handed to pods in this subnet'),
  vlan: z.number().int().min(0).max(4094).optional(),
  excludeRanges: z.array(IpRange).optional().describe('addresses never handed out'),
  global: z.boolean().default(true).describe('true: owned by the broker and mirrored into every member cluster'),
  origin: Origin.optional(),
});
export const SubnetStatus = StatusBase.extend({
  allocatedBlocks: z.number().int().min(0).optional(),
  totalBlocks: z.number().int().min(0).optional(),
});
export const SubnetKind = defineKind({
  group: IPAM_GROUP, version: IPAM_VERSION, kind: 'Subnet', plural: 'subnets', shortNames: ['ssn'], scope: 'Cluster',
  description: 'A network from which Strait leases address blocks to clusters and nodes.',
  spec: SubnetSpec, status: SubnetStatus,
  specValidations: [{ rule: "!has(self.gateway) || cidr(self.cidr).containsIP(self.gateway)", message: 'gateway must lie inside cidr' }],
  printerColumns: [
    { name: 'CIDR', type: 'string', jsonPath: '.spec.cidr' },
    { name: 'Block', type: 'integer', jsonPath: '.spec.blockSize' },
    { name: 'Blocks', type: 'integer', jsonPath: '.status.allocatedBlocks', description: 'blocks leased' },
    readyColumn, syncedColumn, ageColumn,
  ],
});
export type SubnetSpec = z.infer<typeof SubnetSpec>;
export type SubnetStatus = z.infer<typeof SubnetStatus>;

// ------------------------------------------------------------------------------------------------ IPPool
export const IPPoolSpec = z.object({
  subnet: ObjectName.describe('name of the Subnet the pool draws from'),
  ips: z.array(IpRange).min(1).describe('addresses of the pool: single IPs or first-last ranges'),
  excludeIPs: z.array(IpRange).optional(),
  gateway: Ip.optional(),
  default: z.boolean().default(false).describe('cluster default pool when no annotation, namespace or netconf picks one'),
  namespaceAffinity: LabelSelector.optional(),
  namespaces: z.array(z.string()).optional().describe('namespaces allowed to use the pool (empty: all)'),
  nodeAffinity: LabelSelector.optional(),
  podAffinity: LabelSelector.optional(),
  cluster: ClusterId.optional().describe('owning cluster; pools of other clusters are mirrored read-only'),
  origin: Origin.optional(),
});
export const IPPoolStatus = StatusBase.extend({
  totalIPs: z.number().int().min(0).optional(),
  allocatedIPs: z.number().int().min(0).optional(),
});
export const IPPoolKind = defineKind({
  group: IPAM_GROUP, version: IPAM_VERSION, kind: 'IPPool', plural: 'ippools', shortNames: ['sip'], scope: 'Cluster',
  description: 'A set of addresses inside a Subnet with affinity rules deciding which pods may use it.',
  spec: IPPoolSpec, status: IPPoolStatus,
  printerColumns: [
    { name: 'Subnet', type: 'string', jsonPath: '.spec.subnet' },
    { name: 'Cluster', type: 'string', jsonPath: '.spec.cluster' },
    { name: 'Total', type: 'integer', jsonPath: '.status.totalIPs' },
    { name: 'Allocated', type: 'integer', jsonPath: '.status.allocatedIPs' },
    { name: 'Default', type: 'boolean', jsonPath: '.spec.default', priority: 1 },
    readyColumn, syncedColumn, ageColumn,
  ],
});
export type IPPoolSpec = z.infer<typeof IPPoolSpec>;
export type IPPoolStatus = z.infer<typeof IPPoolStatus>;

// ------------------------------------------------------------------------------------------------ ReservedIP
export const ReservedIPSpec = z.object({
  ips: z.array(IpRange).min(1).describe('addresses no pod may get'),
  subnet: ObjectName.optional(),
  reason: z.string().max(1024).optional(),
});
export const ReservedIPStatus = StatusBase;
export const ReservedIPKind = defineKind({
  group: IPAM_GROUP, version: IPAM_VERSION, kind: 'ReservedIP', plural: 'reservedips', shortNames: ['srip'], scope: 'Cluster',
  description: 'Addresses kept out of every pool (routers, VIPs, hosts outside Kubernetes).',
  spec: ReservedIPSpec, status: ReservedIPStatus,
  printerColumns: [
    { name: 'IPs', type: 'string', jsonPath: '.spec.ips' },
    { name: 'Reason', type: 'string', jsonPath: '.spec.reason', priority: 1 },
    ageColumn,
  ],
});
export type ReservedIPSpec = z.infer<typeof ReservedIPSpec>;
