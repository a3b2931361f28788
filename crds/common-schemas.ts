import { z } from 'zod';
import { cidrProblem, ipProblem, ipRangeProblem, refineWith } from './address-checks.js';

/**
 * Building blocks shared by every Strait CRD schema. Regexes keep the schema checkable by plain JSON-schema
 * validators (the test API server, `kubectl --dry-run=client`); the CEL rules let a real API server check the
 * semantics (host bits, families) that a regex cannot.
 */
const IPV4 = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}`;
const IPV6 = String.raw`[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*`;

export const IP_PATTERN = `^(?:${IPV4}|${IPV6})$`;
export const CIDR_PATTERN = String.raw`^(?:${IPV4}/(?:3[0-2]|[12]?\d)|${IPV6}/(?:12[0-8]|1[01]\d|[1-9]?\d))$`;
export const RANGE_PATTERN = String.raw`^(?:${IPV4}|${IPV6})(?:-(?:${IPV4}|${IPV6}))?$`;
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

type Rule = { rule: string; message: string };
const cel = (...rules: Rule[]): { 'x-kubernetes-validations': Rule[] } => ({ 'x-kubernetes-validations': rules });

// zod runs the strict checks of address-checks.ts (one grammar with the broker and ipam/; leading zeros, mapped
// addresses, host bits, families); the regexes and CEL rules are what reaches the CRD for the API server.
export const Cidr = z
  .string()
  .superRefine(refineWith((s) => cidrProblem(s)))
  .regex(new RegExp(CIDR_PATTERN), 'must be a CIDR such as 10.0.0.0/16')
  .meta(cel({ rule: 'isCIDR(self) && cidr(self) == cidr(self).masked()', message: 'must be a CIDR without host bits' }));

/** A CIDR addresses are handed out from or claimed (pool, subnet, pod/service CIDR): no special-purpose range. */
export const AllocatableCidr = z
  .string()
  .superRefine(refineWith((s) => cidrProblem(s, { allocatable: true })))
  .regex(new RegExp(CIDR_PATTERN), 'must be a CIDR such as 10.0.0.0/16')
  .meta(cel({ rule: 'isCIDR(self) && cidr(self) == cidr(self).masked()', message: 'must be a CIDR without host bits' }));

export const Ip = z
  .string()
  .superRefine(refineWith((s) => ipProblem(s)))
  .regex(new RegExp(IP_PATTERN), 'must be an IP address')
  .meta(cel({ rule: 'isIP(self)', message: 'must be an IP address' }));

/** A host's own IPv4 address (an egress IP): not unspecified, multicast or broadcast. */
export const Ipv4 = z
  .string()
  .superRefine(refineWith((s) => ipProblem(s, { family: 'ipv4', unicast: true })))
  .regex(new RegExp(`^${IPV4}$`), 'must be an IPv4 address')
  .meta(cel({ rule: 'isIP(self) && ip(self).family() == 4', message: 'must be an IPv4 address' }));

/** A host's own IPv6 address (an egress IP): not unspecified or multicast, not IPv4-mapped. */
export const Ipv6 = z
  .string()
  .superRefine(refineWith((s) => ipProblem(s, { family: 'ipv6', unicast: true })))
  .regex(new RegExp(`^${IPV6}$`), 'must be an IPv6 address')
  .meta(cel({ rule: 'isIP(self) && ip(self).family() == 6', message: 'must be an IPv6 address' }));

/** `10.0.0.10` or `10.0.0.10-10.0.0.20` (first-last, both included). */
export const IpRange = z
  .string()
  .superRefine(refineWith((s) => ipRangeProblem(s)))
  .regex(new RegExp(RANGE_PATTERN), 'must be an IP or a range first-last')
  .meta(cel({
    rule: "self.split('-').all(p, isIP(p)) && (self.split('-').size() == 1 || ip(self.split('-')[0]).family() == ip(self.split('-')[1]).family())",
    message: 'must be an IP or a range first-last of one family',
  }));

/** An IPv4 address or first-last range (the `ipv4` list of an EgressGateway's pools). */
export const Ipv4Range = z
  .string()
  .superRefine(refineWith((s) => ipRangeProblem(s, { family: 'ipv4' })))
  .regex(new RegExp(String.raw`^${IPV4}(?:-${IPV4})?$`), 'must be an IPv4 address or range first-last')
  .meta(cel({ rule: "self.split('-').all(p, isIP(p) && ip(p).family() == 4)", message: 'must be an IPv4 address or range first-last' }));

/** An IPv6 address or first-last range (the `ipv6` list of an EgressGateway's pools). */
export const Ipv6Range = z
  .string()
  .superRefine(refineWith((s) => ipRangeProblem(s, { family: 'ipv6' })))
  .regex(new RegExp(String.raw`^${IPV6}(?:-${IPV6})?$`), 'must be an IPv6 address or range first-last')
  .meta(cel({ rule: "self.split('-').all(p, isIP(p) && ip(p).family() == 6)", message: 'must be an IPv6 address or range first-last' }));

export const ObjectName = z.string().min(1).max(253).regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/);
export const ClusterId = z.string().min(1).max(63).regex(new RegExp(DNS_LABEL_PATTERN), 'must be a DNS label');

export const LabelSelector = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(z.strictObject({
      key: z.string(),
      operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
      values: z.array(z.string()).optional(),
    }))
    .optional(),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

/** metav1.Condition, as `kubectl wait --for=condition=Ready` expects it. */
export const Condition = z.object({
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().max(1024).default('Unknown'),
  message: z.string().max(32768).default(''),
  lastTransitionTime: z.string().optional(),
  observedGeneration: z.number().int().min(0).optional(),
});
export type Condition = z.infer<typeof Condition>;

export const Conditions = z
  .array(Condition)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });

export const StatusBase = z.object({
  conditions: Conditions.optional(),
  observedGeneration: z.number().int().min(0).optional(),
});
