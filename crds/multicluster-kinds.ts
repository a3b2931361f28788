import { z } from 'zod';
import { AllocatableCidr, ClusterId, Ip, StatusBase } from './common-schemas.js';
import { ageColumn, defineKind, readyColumn, syncedColumn } from './kind-definition.js';

export const MULTICLUSTER_GROUP = 'multicluster.strait.io';
export const MULTICLUSTER_VERSION = 'v1alpha1';

// ------------------------------------------------------------------------------------------------ ClusterSet
export const ClusterSetSpec = z.object({
  clusterID: ClusterId.describe('this cluster, as registered at the broker'),
  brokerURL: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
  caHash: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional().describe('pinned broker CA (sha256 of its DER)'),
  podCIDRs: z.array(AllocatableCidr).default([]),
  serviceCIDRs: z.array(AllocatableCidr).default([]),
  credentialsSecret: z.object({ namespace: z.string(), name: z.string() }).describe('Secret holding the cluster credentials'),
});
export const ClusterSetStatus = StatusBase.extend({
  phase: z.enum(['Joining', 'Joined', 'Degraded', 'Leaving']).optional(),
  brokerRevision: z.number().int().min(0).optional().describe('last broker event applied'),
  members: z.array(z.object({
    clusterID: z.string(),
    podCIDRs: z.array(z.string()).default([]),
    serviceCIDRs: z.array(z.string()).default([]),
  })).optional(),
});
export const ClusterSetKind = defineKind({
  group: MULTICLUSTER_GROUP, version: MULTICLUSTER_VERSION, kind: 'ClusterSet', plural: 'clustersets', shortNames: ['scs'],
  scope: 'Cluster',
  description: 'The broker this cluster joined, under which id, and the other members it sees.',
  spec: ClusterSetSpec, status: ClusterSetStatus,
  printerColumns: [
    { name: 'Cluster', type: 'string', jsonPath: '.spec.clusterID' },
    { name: 'Broker', type: 'string', jsonPath: '.spec.brokerURL' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    readyColumn, syncedColumn, ageColumn,
  ],
});
export type ClusterSetSpec = z.infer<typeof ClusterSetSpec>;
export type ClusterSetStatus = z.infer<typeof ClusterSetStatus>;

// ------------------------------------------------------------------------------------------------ Gateway
/** Mirrors the broker's Gateway; the object name is `<clusterID>.<name>`. */
export const GatewaySpec = z.object({
  clusterID: ClusterId,
  name: z.string().min(1).max(63).describe('gateway name at the broker (usually the node name)'),
  endpoints: z.array(Ip).min(1).describe('addresses other clusters reach the gateway on'),
  tunnelTypes: z.array(z.enum(['vxlan', 'geneve', 'wireguard', 'ipsec'])).min(1),
  publicKeys: z.object({ wireguard: z.string().optional(), ipsec: z.string().optional() }).default({}),
  priority: z.number().int().min(0).max(1000000).default(100),
});
export const GatewayStatus = StatusBase.extend({
  health: z.enum(['Healthy', 'Degraded', 'Unhealthy', 'Unknown']).optional().describe("as the gateway's agent last published it at the broker"),
  active: z.boolean().optional().describe('the gateway holds its cluster\'s gateway lease (serves the role) now'),
  updatedAt: z.string().optional().describe('when its agent last published it'),
  brokerResourceVersion: z.string().optional(),
});
export const GatewayKind = defineKind({
  group: MULTICLUSTER_GROUP, version: MULTICLUSTER_VERSION, kind: 'Gateway', plural: 'gateways', shortNames: ['sgw'],
  scope: 'Cluster',
  description: "A cluster's gateway endpoint as the broker sees it; this cluster's own are pushed to the broker.",
  spec: GatewaySpec, status: GatewayStatus,
  printerColumns: [
    { name: 'Cluster', type: 'string', jsonPath: '.spec.clusterID' },
    { name: 'Endpoints', type: 'string', jsonPath: '.spec.endpoints' },
    { name: 'Tunnels', type: 'string', jsonPath: '.spec.tunnelTypes' },
    { name: 'Priority', type: 'integer', jsonPath: '.spec.priority' },
    { name: 'Health', type: 'string', jsonPath: '.status.health' },
    { name: 'Active', type: 'boolean', jsonPath: '.status.active' },
    readyColumn, syncedColumn, ageColumn,
  ],
});
export type GatewaySpec = z.infer<typeof GatewaySpec>;
export type GatewayStatus = z.infer<typeof GatewayStatus>;
