import type * as k8s from '@kubernetes/client-node';
import type { ComponentAccess, KubeAccess } from '../member-agent/index.js';

/** Labels every Strait object carries (`kubectl get all -l app.kubernetes.io/part-of=strait`). */
export const labelsOf = (component: string, version: string): Record<string, string> => ({
  'app.kubernetes.io/name': `strait-${component}`,
  'app.kubernetes.io/component': component,
  'app.kubernetes.io/part-of': 'strait',
  'app.kubernetes.io/version': version,
});

export const serviceAccountName = (component: string): string => `strait-${component}`;

/** One declared grant → one PolicyRule (the group and resource as RBAC spells them). */
export function policyRuleOf(a: KubeAccess): k8s.V1PolicyRule {
  return { apiGroups: [a.group], resources: [a.resource], verbs: [...a.verbs], ...(a.names ? { resourceNames: [...a.names] } : {}) };
}

/**
 * A component's identity and RBAC, derived from its declared access and nothing else: a ServiceAccount, a
 * ClusterRole + ClusterRoleBinding for its cluster-wide grants and a Role + RoleBinding per namespace for the
 * namespaced ones (none when it has no grant of that kind). A component without grants gets a ServiceAccount whose
 * token is not mounted.
 */
export function rbacObjectsOf(access: ComponentAccess, namespace: string, version: string): object[] {
  const name = serviceAccountName(access.component);
  const labels = labelsOf(access.component, version);
  const subject: k8s.RbacV1Subject = { kind: 'ServiceAccount', name, namespace };
  const sa: k8s.V1ServiceAccount = {
    apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels },
    ...(access.rules.length ? {} : { automountServiceAccountToken: false }),
  };
  const out: object[] = [sa];
  const clusterWide = access.rules.filter((r) => r.namespace === undefined);
  if (clusterWide.length) {
    const role: k8s.V1ClusterRole = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels }, rules: clusterWide.map(policyRuleOf) };
    const binding: k8s.V1ClusterRoleBinding = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [subject],
    };
    out.push(role, binding);
  }
  const namespaces = [...new Set(access.rules.flatMap((r) => (r.namespace === undefined ? [] : [r.namespace])))];
  for (const ns of namespaces) {
    const role: k8s.V1Role = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: ns, labels },
      rules: access.rules.filter((r) => r.namespace === ns).map(policyRuleOf),
    };
    const binding: k8s.V1RoleBinding = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [subject],
    };
    out.push(role, binding);
  }
  return out;
}
