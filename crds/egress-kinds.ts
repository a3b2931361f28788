import { z } from 'zod';
import { Cidr, Ip, Ipv4, Ipv4Range, Ipv6, Ipv6Range, LabelSelector, ObjectName, StatusBase } from './common-schemas.js';
import { ageColumn, defineKind, readyColumn } from './kind-definition.js';

export const EGRESS_GROUP = 'egress.strait.io';
export const EGRESS_VERSION = 'v1alpha1';

// ------------------------------------------------------------------------------------------------ EgressGateway
// Spec objects are strict: an unknown field (a typo such as `egressIp`) is refused, not silently dropped.
export const EgressGatewaySpec = z.strictObject({
  nodeSelector: LabelSelector.optional().describe('candidate gateway nodes chosen by labels'),
  nodes: z.array(ObjectName).optional().describe('candidate gateway nodes by name, in priority order'),
  ippools: z.strictObject({
    ipv4: z.array(Ipv4Range).optional(),
    ipv6: z.array(Ipv6Range).optional(),
  }).default({}).describe('egress IPs the gateway may hand to policies (leased from the broker)'),
  clusterDefault: z.boolean().default(false).describe('gateway used by policies that name none'),
});
export const EgressGatewayStatus = StatusBase.extend({
  activeNode: z.string().optional().describe('the candidate serving the egress IPs now (holds the gateway lease)'),
  candidates: z.array(z.string()).optional().describe('the candidate node names, in order (the Candidates column; details in nodes)'),
  nodes: z.array(z.object({
    name: z.string(),
    ready: z.boolean().describe('the candidate is healthy (its gateway agent reports Healthy)'),
    active: z.boolean().default(false),
    health: z.enum(['Healthy', 'Degraded', 'Unhealthy', 'Unknown']).optional().describe("as the candidate's gateway agent last published it; Unknown when it never did or went silent"),
    egressIPs: z.array(Ip).optional().describe('egress IPs the candidate serves (the active one only)'),
  })).optional().describe('every candidate node (spec.nodes, or the Nodes matching spec.nodeSelector)'),
});
export const EgressGatewayKind = defineKind({
  group: EGRESS_GROUP, version: EGRESS_VERSION, kind: 'EgressGateway', plural: 'egressgateways', shortNames: ['egw'],
  scope: 'Cluster',
  description: 'Nodes that SNAT selected traffic to stable egress IPs, with failover between them.',
  spec: EgressGatewaySpec, status: EgressGatewayStatus,
  specValidations: [{ rule: 'has(self.nodeSelector) || (has(self.nodes) && size(self.nodes) > 0)', message: 'give nodeSelector or nodes' }],
  printerColumns: [
    { name: 'Active', type: 'string', jsonPath: '.status.activeNode' },
    { name: 'Candidates', type: 'string', jsonPath: '.status.candidates' },
    { name: 'Default', type: 'boolean', jsonPath: '.spec.clusterDefault' },
    readyColumn, ageColumn,
  ],
});
export type EgressGatewaySpec = z.infer<typeof EgressGatewaySpec>;
export type EgressGatewayStatus = z.infer<typeof EgressGatewayStatus>;

// ------------------------------------------------------------------------------------------------ policies
export const EgressIP = z.strictObject({
  useNodeIP: z.boolean().default(false).describe("SNAT to the gateway node's own IP"),
  ipv4: Ipv4.optional().describe('a fixed egress IP (must lie in the gateway pools)'),
  ipv6: Ipv6.optional(),
  // Only what is implemented is accepted: `roundRobin` used to be accepted and ignored.
  allocatorPolicy: z
    .enum(['default'], { error: 'allocatorPolicy: only "default" is implemented (each policy leases its own egress IP from the gateway pools); roundRobin is not' })
    .default('default')
    .describe('how an IP is picked from the pool when none is fixed: "default" (each policy leases its own IP from the gateway pools) is the only policy'),
});
export type EgressIP = z.infer<typeof EgressIP>;

const policyFields = {
  egressGatewayName: ObjectName.optional().describe('gateway to use; the cluster default when empty'),
  egressIP: EgressIP.default({ useNodeIP: false, allocatorPolicy: 'default' }),
  destSubnet: z.array(Cidr).optional().describe('destinations steered to the gateway (empty: all outside the cluster)'),
  priority: z.number().int().min(0).max(1000).default(100).describe('higher wins when policies overlap'),
};
const egressIPRule = { rule: '!(self.egressIP.useNodeIP && (has(self.egressIP.ipv4) || has(self.egressIP.ipv6)))', message: 'useNodeIP excludes a fixed egress IP' };

export const EgressPolicySpec = z.strictObject({
  ...policyFields,
  appliedTo: z.strictObject({
    podSelector: LabelSelector.optional(),
    podSubnet: z.array(Cidr).optional(),
  }),
});
export const EgressPolicyStatus = StatusBase.extend({
  eip: z.object({ ipv4: Ip.optional(), ipv6: Ip.optional() }).optional().describe("the policy's egress (source) IPs"),
  gateway: z.string().optional().describe('the EgressGateway carrying the policy (spec.egressGatewayName or the cluster default)'),
  node: z.string().optional().describe('gateway node currently carrying the policy'),
});
const policyColumns = [
  { name: 'Gateway', type: 'string' as const, jsonPath: '.status.gateway' },
  { name: 'IPv4', type: 'string' as const, jsonPath: '.status.eip.ipv4' },
  { name: 'IPv6', type: 'string' as const, jsonPath: '.status.eip.ipv6', priority: 1 },
  { name: 'Node', type: 'string' as const, jsonPath: '.status.node' },
  { name: 'Priority', type: 'integer' as const, jsonPath: '.spec.priority', priority: 1 },
  readyColumn, ageColumn,
];
const appliedToRule = { rule: 'has(self.appliedTo.podSelector) != has(self.appliedTo.podSubnet)', message: 'appliedTo needs exactly one of podSelector or podSubnet' };

export const EgressPolicyKind = defineKind({
  group: EGRESS_GROUP, version: EGRESS_VERSION, kind: 'EgressPolicy', plural: 'egresspolicies', shortNames: ['egp'],
  scope: 'Namespaced',
  description: "Sends the traffic of selected pods in this namespace out through an EgressGateway with a stable source IP.",
  spec: EgressPolicySpec, status: EgressPolicyStatus,
  specValidations: [egressIPRule, appliedToRule],
  printerColumns: policyColumns,
});
export type EgressPolicySpec = z.infer<typeof EgressPolicySpec>;
export type EgressPolicyStatus = z.infer<typeof EgressPolicyStatus>;

export const EgressClusterPolicySpec = z.strictObject({
  ...policyFields,
  appliedTo: z.strictObject({
    namespaceSelector: LabelSelector.optional().describe('namespaces whose pods the policy covers (empty: all)'),
    podSelector: LabelSelector.optional(),
    podSubnet: z.array(Cidr).optional(),
  }),
});
export const EgressClusterPolicyKind = defineKind({
  group: EGRESS_GROUP, version: EGRESS_VERSION, kind: 'EgressClusterPolicy', plural: 'egressclusterpolicies',
  shortNames: ['egcp'], scope: 'Cluster',
  description: 'Like EgressPolicy, across namespaces chosen by a namespace selector.',
  spec: EgressClusterPolicySpec, status: EgressPolicyStatus,
  specValidations: [egressIPRule, { rule: '!(has(self.appliedTo.podSelector) && has(self.appliedTo.podSubnet))', message: 'appliedTo takes podSelector or podSubnet, not both' }],
  printerColumns: policyColumns,
});
export type EgressClusterPolicySpec = z.infer<typeof EgressClusterPolicySpec>;
