/**
 * Table columns of the built-in kinds, as `kubectl get` shows them from a real API server (priority 1 columns only
 * with `-o wide`). Pure: each cell is computed from the stored object.
 */
import { humanAge } from './human-age.js';

export interface BuiltinColumn {
  name: string;
  type: 'string' | 'integer' | 'date';
  priority?: number;
  cell: (o: Obj, now: number) => unknown;
}

type Obj = Record<string, unknown> & { metadata: { creationTimestamp?: string; deletionTimestamp?: string; labels?: Record<string, string> } };

const path = (o: unknown, ...keys: (string | number)[]): unknown => {
  let cur = o;
  for (const k of keys) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[k] : undefined;
  return cur;
};
const arr = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v as Record<string, unknown>[]) : []);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const orNone = (v: unknown): string => (v === undefined || v === null || v === '' ? '<none>' : String(v as string));
const count = (v: unknown): number => (v && typeof v === 'object' ? Object.keys(v).length : 0);

const AGE: BuiltinColumn = { name: 'Age', type: 'string', cell: (o, now) => humanAge(o.metadata.creationTimestamp, now) };
const CREATED_AT: BuiltinColumn = { name: 'Created At', type: 'date', cell: (o) => o.metadata.creationTimestamp ?? null };

function podStatus(o: Obj): string {
  if (o.metadata.deletionTimestamp) return 'Terminating';
  for (const cs of arr(path(o, 'status', 'containerStatuses'))) {
    const waiting = path(cs, 'state', 'waiting', 'reason');
    if (typeof waiting === 'string' && waiting) return waiting;
  }
  return String((path(o, 'status', 'reason') ?? path(o, 'status', 'phase') ?? 'Pending') as string);
}

function nodeStatus(o: Obj): string {
  const ready = arr(path(o, 'status', 'conditions')).find((c) => c.type === 'Ready');
  const s = ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
  return path(o, 'spec', 'unschedulable') === true ? `${s},SchedulingDisabled` : s;
}

function nodeRoles(o: Obj): string {
  const roles = Object.keys(o.metadata.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length ? roles.sort().join(',') : '<none>';
}

const nodeAddress = (type: string) => (o: Obj): string => orNone(arr(path(o, 'status', 'addresses')).find((a) => a.type === type)?.address);

function servicePorts(o: Obj): string {
  const ports = arr(path(o, 'spec', 'ports')).map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ''}/${String(p.protocol ?? 'TCP')}`);
  return ports.length ? ports.join(',') : '<none>';
}

const selectorText = (v: unknown): string => (v && typeof v === 'object' && Object.keys(v).length ? Object.entries(v).map(([k, x]) => `${k}=${String(x)}`).join(',') : '<none>');
const containers = (o: Obj): Record<string, unknown>[] => arr(path(o, 'spec', 'template', 'spec', 'containers'));
const subjects = (kind: string) => (o: Obj): string => orNone(arr(path(o, 'subjects')).filter((s) => s.kind === kind).map((s) => (kind === 'ServiceAccount' ? `${String(s.namespace ?? '')}/${String(s.name)}` : String(s.name))).join(', '));
const roleRef = (o: Obj): string => `${String(path(o, 'roleRef', 'kind') ?? '')}/${String(path(o, 'roleRef', 'name') ?? '')}`;

export const BUILTIN_COLUMNS: Record<string, BuiltinColumn[]> = {
  Pod: [
    { name: 'Ready', type: 'string', cell: (o) => `${arr(path(o, 'status', 'containerStatuses')).filter((c) => c.ready === true).length}/${arr(path(o, 'spec', 'containers')).length}` },
    { name: 'Status', type: 'string', cell: podStatus },
    { name: 'Restarts', type: 'integer', cell: (o) => arr(path(o, 'status', 'containerStatuses')).reduce((n, c) => n + num(c.restartCount), 0) },
    AGE,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => orNone(path(o, 'status', 'podIP')) },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => orNone(path(o, 'spec', 'nodeName')) },
    { name: 'Nominated Node', type: 'string', priority: 1, cell: (o) => orNone(path(o, 'status', 'nominatedNodeName')) },
    { name: 'Readiness Gates', type: 'string', priority: 1, cell: (o) => orNone(arr(path(o, 'spec', 'readinessGates')).map((g) => g.conditionType).join(', ')) },
  ],
  Node: [
    { name: 'Status', type: 'string', cell: nodeStatus },
    { name: 'Roles', type: 'string', cell: nodeRoles },
    AGE,
    { name: 'Version', type: 'string', cell: (o) => String((path(o, 'status', 'nodeInfo', 'kubeletVersion') ?? '') as string) },
    { name: 'Internal-IP', type: 'string', priority: 1, cell: nodeAddress('InternalIP') },
    { name: 'External-IP', type: 'string', priority: 1, cell: nodeAddress('ExternalIP') },
  ],
  Namespace: [{ name: 'Status', type: 'string', cell: (o) => String((path(o, 'status', 'phase') ?? 'Active') as string) }, AGE],
  ConfigMap: [{ name: 'Data', type: 'integer', cell: (o) => count(o.data) + count(o.binaryData) }, AGE],
  Secret: [{ name: 'Type', type: 'string', cell: (o) => String((o.type || 'Opaque') as string) }, { name: 'Data', type: 'integer', cell: (o) => count(o.data) }, AGE],
  Service: [
    { name: 'Type', type: 'string', cell: (o) => String((path(o, 'spec', 'type') ?? 'ClusterIP') as string) },
    { name: 'Cluster-IP', type: 'string', cell: (o) => orNone(path(o, 'spec', 'clusterIP')) },
    { name: 'External-IP', type: 'string', cell: (o) => orNone(arr(path(o, 'spec', 'externalIPs')).join(',')) },
    { name: 'Port(s)', type: 'string', cell: servicePorts },
    AGE,
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => selectorText(path(o, 'spec', 'selector')) },
  ],
  ServiceAccount: [{ name: 'Secrets', type: 'integer', cell: (o) => arr(o.secrets).length }, AGE],
  Deployment: [
    { name: 'Ready', type: 'string', cell: (o) => `${num(path(o, 'status', 'readyReplicas'))}/${String(path(o, 'spec', 'replicas') ?? 1)}` },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(path(o, 'status', 'updatedReplicas')) },
    { name: 'Available', type: 'integer', cell: (o) => num(path(o, 'status', 'availableReplicas')) },
    AGE,
    { name: 'Containers', type: 'string', priority: 1, cell: (o) => containers(o).map((c) => c.name).join(',') },
    { name: 'Images', type: 'string', priority: 1, cell: (o) => containers(o).map((c) => c.image).join(',') },
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => selectorText(path(o, 'spec', 'selector', 'matchLabels')) },
  ],
  DaemonSet: [
    { name: 'Desired', type: 'integer', cell: (o) => num(path(o, 'status', 'desiredNumberScheduled')) },
    { name: 'Current', type: 'integer', cell: (o) => num(path(o, 'status', 'currentNumberScheduled')) },
    { name: 'Ready', type: 'integer', cell: (o) => num(path(o, 'status', 'numberReady')) },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(path(o, 'status', 'updatedNumberScheduled')) },
    { name: 'Available', type: 'integer', cell: (o) => num(path(o, 'status', 'numberAvailable')) },
    { name: 'Node Selector', type: 'string', cell: (o) => selectorText(path(o, 'spec', 'template', 'spec', 'nodeSelector')) },
    AGE,
    { name: 'Containers', type: 'string', priority: 1, cell: (o) => containers(o).map((c) => c.name).join(',') },
    { name: 'Images', type: 'string', priority: 1, cell: (o) => containers(o).map((c) => c.image).join(',') },
  ],
  StatefulSet: [{ name: 'Ready', type: 'string', cell: (o) => `${num(path(o, 'status', 'readyReplicas'))}/${String(path(o, 'spec', 'replicas') ?? 1)}` }, AGE],
  ReplicaSet: [
    { name: 'Desired', type: 'integer', cell: (o) => num(path(o, 'spec', 'replicas') ?? 1) },
    { name: 'Current', type: 'integer', cell: (o) => num(path(o, 'status', 'replicas')) },
    { name: 'Ready', type: 'integer', cell: (o) => num(path(o, 'status', 'readyReplicas')) },
    AGE,
  ],
  Lease: [{ name: 'Holder', type: 'string', cell: (o) => String((path(o, 'spec', 'holderIdentity') ?? '') as string) }, AGE],
  Endpoints: [{ name: 'Endpoints', type: 'string', cell: (o) => orNone(arr(o.subsets).flatMap((s) => arr(s.addresses).map((a) => a.ip)).join(',')) }, AGE],
  Event: [
    { name: 'Last Seen', type: 'string', cell: (o, now) => humanAge((o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp) as string | undefined, now) },
    { name: 'Type', type: 'string', cell: (o) => String((o.type ?? '') as string) },
    { name: 'Reason', type: 'string', cell: (o) => String((o.reason ?? '') as string) },
    { name: 'Object', type: 'string', cell: (o) => `${String(path(o, 'involvedObject', 'kind') ?? '').toLowerCase()}/${String(path(o, 'involvedObject', 'name') ?? '')}` },
    { name: 'Message', type: 'string', cell: (o) => String((o.message ?? '') as string) },
  ],
  Role: [CREATED_AT],
  ClusterRole: [CREATED_AT],
  RoleBinding: [
    { name: 'Role', type: 'string', cell: roleRef }, AGE,
    { name: 'Users', type: 'string', priority: 1, cell: subjects('User') },
    { name: 'Groups', type: 'string', priority: 1, cell: subjects('Group') },
    { name: 'ServiceAccounts', type: 'string', priority: 1, cell: subjects('ServiceAccount') },
  ],
  ClusterRoleBinding: [
    { name: 'Role', type: 'string', cell: roleRef }, AGE,
    { name: 'Users', type: 'string', priority: 1, cell: subjects('User') },
    { name: 'Groups', type: 'string', priority: 1, cell: subjects('Group') },
    { name: 'ServiceAccounts', type: 'string', priority: 1, cell: subjects('ServiceAccount') },
  ],
  CustomResourceDefinition: [CREATED_AT],
};

/** Kinds without their own columns show NAME and AGE, as a real API server does for them. */
export const DEFAULT_COLUMNS: BuiltinColumn[] = [AGE];
