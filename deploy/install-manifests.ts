import type * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { StraitError } from '../api/index.js';
import { ALL_KINDS, crdManifestOf } from '../crds/index.js';
import { allComponentAccess, STRAIT_NAMESPACE } from '../member-agent/index.js';
import { rbacObjectsOf } from './rbac-objects.js';
import { gatewayAgentDaemonSet, memberAgentDeployment, nodeAgentDaemonSet, nodeSteerDaemonSet, type WorkloadOptions } from './workload-objects.js';

export type InstallOptions = WorkloadOptions;

/** The options deploy/strait.yaml is generated with (`strait manifests` without flags prints the same). */
export function defaultInstallOptions(version: string): InstallOptions {
  return {
    image: `ghcr.io/strait-io/strait:${version}`,
    imagePullPolicy: 'IfNotPresent',
    namespace: STRAIT_NAMESPACE,
    version,
    leaseRedis: `redis://strait-gateway-leases.${STRAIT_NAMESPACE}.svc:6379`,
    gatewayCandidates: [],
    gatewayArgs: [],
    nodeSteerArgs: [],
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Bad options get a clear error before anything is printed. */
function check(o: InstallOptions): void {
  const bad = (m: string): never => {
    throw new StraitError('INVALID_ARGUMENT', m);
  };
  if (!o.image.trim() || /\s/.test(o.image)) bad(`--image must be an image reference without spaces, got ${JSON.stringify(o.image)}`);
  if (o.namespace !== STRAIT_NAMESPACE) {
    // The agents find their Lease and the credentials Secret of `strait join` in strait-system.
    bad(`--namespace ${o.namespace}: Strait's agents and \`strait join\` use the namespace ${STRAIT_NAMESPACE}; other namespaces are not supported yet`);
  }
  // --lease-redis: one store, or 3 or 5 for the quorum lease (docs/gateways.md) — each checked alone.
  const leaseStores = o.leaseRedis.split(',').map((u) => u.trim());
  if (leaseStores.length % 2 === 0) bad(`--lease-redis: ${leaseStores.length} stores survive no more failures than ${leaseStores.length - 1}; give one store or an odd number (3 or 5), comma-separated`);
  if (new Set(leaseStores).size !== leaseStores.length) bad('--lease-redis: a store is named twice');
  for (const [flag, url] of [['--broker', o.broker], ...leaseStores.map((u) => ['--lease-redis', u] as const)] as const) {
    if (url === undefined) continue;
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      u = undefined;
    }
    const ok = flag === '--broker' ? u && (u.protocol === 'http:' || u.protocol === 'https:') : u && (u.protocol === 'redis:' || u.protocol === 'rediss:' || u.protocol === 'unix:');
    if (!ok) bad(`${flag} must be a ${flag === '--broker' ? 'http(s)' : 'redis:// or unix://'} URL, got ${JSON.stringify(url)}`);
  }
  for (const c of o.gatewayCandidates) {
    const m = /^([^=]+)=([^@]+)@(\d+)$/.exec(c);
    if (!m || !DNS_LABEL.test(m[1]!.split('.')[0]!)) bad(`--gateway-candidate ${c}: expected node-name=address@priority, e.g. gw1=10.50.0.11@100`);
  }
}

/**
 * Everything a cluster needs, in apply order: the Namespace, the CRDs, then per component its ServiceAccount and
 * RBAC (derived from its declared access, member-agent/cluster/component-access.ts) and its workload.
 */
export function installObjects(o: InstallOptions): object[] {
  check(o);
  const ns: k8s.V1Namespace = {
    apiVersion: 'v1', kind: 'Namespace',
    metadata: {
      name: o.namespace,
      // The node and gateway agents use host networking, host paths and (gateway) privilege: Pod Security
      // Admission must let them in. Nothing else runs in this namespace.
      labels: { 'app.kubernetes.io/part-of': 'strait', 'pod-security.kubernetes.io/enforce': 'privileged' },
    },
  };
  const access = allComponentAccess(o.namespace);
  const rbac = (component: string): object[] => rbacObjectsOf(access.find((a) => a.component === component)!, o.namespace, o.version);
  return [
    ns,
    ...ALL_KINDS.map(crdManifestOf),
    ...rbac('member-agent'), memberAgentDeployment(o),
    ...rbac('node-agent'), nodeAgentDaemonSet(o),
    ...rbac('gateway-agent'), gatewayAgentDaemonSet(o),
    ...rbac('node-steer'), nodeSteerDaemonSet(o),
  ];
}

/** Multi-document YAML, one object per document. */
export function renderManifests(objects: readonly object[], header: string): string {
  return `${header}${objects.map((x) => `---\n${stringify(x, { lineWidth: 0 })}`).join('')}`;
}
