import {
  ClusterSetKind, EgressClusterPolicyKind, EgressGatewayKind, EgressPolicyKind, GatewayKind, IPPoolKind, ReservedIPKind, SubnetKind,
  type KindDefinition,
} from '../../crds/index.js';
import type { ComponentAccess, KubeAccess, KubeVerb } from './kube-access.js';
import { CREDENTIALS_SECRET, STRAIT_NAMESPACE } from './join-plan.js';

/**
 * Every Kubernetes API call each Strait component makes, in one place. The component's client is wrapped by
 * `accessChecked(kc, <its access>)`, so a call missing here fails in its own tests with the 403 RBAC would give;
 * the install manifests (deploy/, `strait manifests`) grant exactly these rules; and the tests that drive each
 * component against the test API server check that every rule here was used (none is granted "just in case").
 */

export const MEMBER_AGENT_LEASE = 'strait-member-agent';

const crd = (d: KindDefinition, verbs: readonly KubeVerb[], why: string, sub?: 'status'): KubeAccess =>
  ({ group: d.group, resource: sub ? `${d.plural}/${sub}` : d.plural, verbs, why });

/** The member agent (Deployment, leader-elected). `namespace` is where it runs (its Lease and the credentials Secret). */
export function memberAgentAccess(namespace: string = STRAIT_NAMESPACE): ComponentAccess {
  const informed = 'informer cache (list, then watch)';
  return {
    component: 'member-agent',
    rules: [
      { group: '', resource: 'secrets', verbs: ['get'], namespace, names: [CREDENTIALS_SECRET], why: 'reads the broker credentials `strait join` stored' },
      { group: 'coordination.k8s.io', resource: 'leases', verbs: ['create'], namespace, why: 'creates the leader-election Lease the first time' },
      { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'update'], namespace, names: [MEMBER_AGENT_LEASE], why: 'leader election: reads, renews, takes over and releases its Lease' },
      { group: '', resource: 'nodes', verbs: ['list', 'watch'], why: `${informed}: gateway candidates (strait.io/gateway label) and live node names for broker heartbeats` },
      { group: '', resource: 'namespaces', verbs: ['list', 'watch'], why: `${informed}: namespaces of egress policies` },
      { group: '', resource: 'pods', verbs: ['list', 'watch'], why: `${informed}: frees the addresses of deleted pods (IP garbage collection)` },
      { group: 'apps', resource: 'statefulsets', verbs: ['list', 'watch'], why: `${informed}: keeps StatefulSet pods' addresses while the StatefulSet exists` },
      crd(SubnetKind, ['list', 'watch', 'create', 'patch', 'delete'], 'mirrors broker Subnets into the cluster'),
      crd(IPPoolKind, ['list', 'watch', 'create', 'patch', 'delete'], 'mirrors broker IPPools; pushes the cluster\'s own to the broker'),
      crd(GatewayKind, ['list', 'watch', 'create', 'patch', 'delete'], 'mirrors the other clusters\' Gateways'),
      crd(SubnetKind, ['patch'], 'writes Synced/Conflict conditions', 'status'),
      crd(IPPoolKind, ['patch'], 'writes Synced/Conflict/Ready conditions and the allocated/block totals of the node agents\' entries', 'status'),
      crd(GatewayKind, ['patch'], 'writes Synced/Conflict/Ready conditions, health and the active flag', 'status'),
      crd(ReservedIPKind, ['list', 'watch', 'create', 'patch', 'delete'], 'pushes the cluster\'s own ReservedIPs to the broker; mirrors the others\''),
      crd(ReservedIPKind, ['patch'], 'writes Synced/Ready/Conflict conditions and the pools the addresses fall in', 'status'),
      crd(EgressGatewayKind, ['list', 'watch'], `${informed}: pushed to the broker`),
      crd(EgressPolicyKind, ['list', 'watch'], `${informed}: pushed to the broker`),
      crd(EgressClusterPolicyKind, ['list', 'watch'], `${informed}: pushed to the broker`),
      crd(EgressGatewayKind, ['patch'], 'writes Synced/Ready, the candidates, their health and the active node', 'status'),
      crd(EgressPolicyKind, ['patch'], 'writes Synced/Ready, the egress IPs and the active gateway node', 'status'),
      crd(EgressClusterPolicyKind, ['patch'], 'writes Synced/Ready, the egress IPs and the active gateway node', 'status'),
      crd(ClusterSetKind, ['list', 'watch'], informed),
      crd(ClusterSetKind, ['patch'], 'writes the cluster set\'s phase, members and Ready condition', 'status'),
    ],
  };
}

/**
 * The node agent (DaemonSet): pod IP GC and StatefulSet stickiness today; the pod, namespace and node informers
 * of issue #13 item 1 (pool selection by labels and annotations) need nodes and namespaces too.
 */
export function nodeAgentAccess(): ComponentAccess {
  return {
    component: 'node-agent',
    rules: [
      { group: '', resource: 'pods', verbs: ['get', 'list', 'watch'], why: 'informer on this node\'s pods (field selector spec.nodeName): pool selection; a GET confirms a pod is gone before its address is freed' },
      { group: 'apps', resource: 'statefulsets', verbs: ['get'], why: 'a StatefulSet pod keeps its address while its StatefulSet exists' },
      { group: '', resource: 'namespaces', verbs: ['get', 'list', 'watch'], why: 'pool selection: namespace labels and the default-pool annotation (one GET when the informer has not seen a new namespace yet)' },
      { group: '', resource: 'nodes', verbs: ['get', 'list', 'watch'], why: 'pool selection: node labels (nodeAffinity); one GET before the informer has synced' },
      crd(IPPoolKind, ['list'], 'reads its own entries of the pools\' status once at start (to write only what changed)'),
      crd(IPPoolKind, ['patch'], 'writes its own entry of each pool\'s status: its blocks and allocated addresses', 'status'),
    ],
  };
}

/**
 * The gateway agent (DaemonSet on strait.io/gateway=true nodes): the broker and its lease store, and the cluster's
 * pods and namespaces, which EgressPolicy podSelector / namespaceSelector resolve over (it SNATs the selected pods'
 * traffic wherever they run, so it watches every pod).
 */
export function gatewayAgentAccess(): ComponentAccess {
  const informed = 'informer cache (list, then watch)';
  return {
    component: 'gateway-agent',
    rules: [
      { group: '', resource: 'pods', verbs: ['list', 'watch'], why: `${informed}: egress podSelector, the pods whose traffic it SNATs` },
      { group: '', resource: 'namespaces', verbs: ['list', 'watch'], why: `${informed}: egress namespaceSelector` },
    ],
  };
}

/**
 * Node-side egress steering (`strait node-steer`, a DaemonSet on every node): it steers what its own pods send,
 * so it watches the pods of its node (field selector spec.nodeName) and the namespaces, for EgressPolicy
 * podSelector / namespaceSelector. Its own identity, not the node agent's: the node agent reads more (GETs, nodes,
 * IPPool status) and node-steer needs none of it.
 */
export function nodeSteerAccess(): ComponentAccess {
  const informed = 'informer cache (list, then watch)';
  return {
    component: 'node-steer',
    rules: [
      { group: '', resource: 'pods', verbs: ['list', 'watch'], why: `${informed}: this node's pods (field selector spec.nodeName), egress podSelector` },
      { group: '', resource: 'namespaces', verbs: ['list', 'watch'], why: `${informed}: egress namespaceSelector` },
    ],
  };
}

/** Every component with its access, in install order. */
export function allComponentAccess(namespace: string = STRAIT_NAMESPACE): ComponentAccess[] {
  return [memberAgentAccess(namespace), nodeAgentAccess(), gatewayAgentAccess(), nodeSteerAccess()];
}
