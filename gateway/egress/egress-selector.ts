import type { EgressPolicy } from '../../crds/index.js';

type LabelSelector = NonNullable<EgressPolicy['spec']['appliedTo']['podSelector']>;

/**
 * What Kubernetes itself refuses in a label selector (apimachinery `ValidateLabelSelector`), checked before a
 * policy is resolved: a selector Kubernetes would reject must not quietly match nothing (or everything) here. The
 * CRD schema only checks the shape; these are the rules on keys, values and operators.
 */
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function keyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain (e.g. example.com/name)`;
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    return `label key ${JSON.stringify(key)}: the name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  }
  return undefined;
}

function valueProblem(key: string, value: string): string | undefined {
  if (value === '' || (value.length <= 63 && NAME.test(value))) return undefined;
  return `label value ${JSON.stringify(value)} of ${key}: must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric (or empty)`;
}

/** Every problem of one selector, each prefixed with `where` (e.g. `appliedTo.podSelector`); empty when valid. */
export function selectorProblems(selector: LabelSelector | undefined, where: string): string[] {
  if (!selector) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    const p = keyProblem(k) ?? (typeof v === 'string' ? valueProblem(k, v) : `label value of ${k} must be a string`);
    if (p) out.push(`${where}.matchLabels: ${p}`);
  }
  (selector.matchExpressions ?? []).forEach((ex, i) => {
    const at = `${where}.matchExpressions[${i}]`;
    const kp = keyProblem(ex.key);
    if (kp) out.push(`${at}: ${kp}`);
    const values = ex.values ?? [];
    if ((ex.operator === 'In' || ex.operator === 'NotIn') && values.length === 0) out.push(`${at}: operator ${ex.operator} needs at least one value`);
    else if ((ex.operator === 'Exists' || ex.operator === 'DoesNotExist') && values.length > 0) out.push(`${at}: operator ${ex.operator} takes no values`);
    else if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(ex.operator)) out.push(`${at}: unknown operator ${JSON.stringify(ex.operator)} (In, NotIn, Exists or DoesNotExist)`);
    for (const v of values) {
      const vp = valueProblem(ex.key, v);
      if (vp) out.push(`${at}: ${vp}`);
    }
  });
  return out;
}

/** The problems of every selector in an Egress spec (EgressGateway, EgressPolicy or EgressClusterPolicy). */
export function specSelectorProblems(spec: unknown): string[] {
  const s = (spec ?? {}) as { nodeSelector?: LabelSelector; appliedTo?: { podSelector?: LabelSelector; namespaceSelector?: LabelSelector } };
  return [
    ...selectorProblems(s.nodeSelector, 'nodeSelector'),
    ...selectorProblems(s.appliedTo?.podSelector, 'appliedTo.podSelector'),
    ...selectorProblems(s.appliedTo?.namespaceSelector, 'appliedTo.namespaceSelector'),
  ];
}
