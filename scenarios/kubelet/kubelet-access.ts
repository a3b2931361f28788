import type { KubeAccess } from '../../member-agent/index.js';

/**
 * What the lab's kubelet stand-in may do on its cluster's test API server (its identity `system:node:<name>`): a
 * subset of what the Node authorizer gives a real kubelet, exactly the calls kubelet.ts makes.
 */
export function kubeletAccess(): KubeAccess[] {
  return [
    { group: '', resource: 'nodes', verbs: ['create'], why: 'registers its Node' },
    { group: '', resource: 'nodes/status', verbs: ['patch'], why: 'posts the Node\'s addresses and Ready condition' },
    { group: '', resource: 'pods', verbs: ['list', 'watch'], why: 'the pods bound to its node (field selector spec.nodeName)' },
    { group: '', resource: 'pods/status', verbs: ['patch'], why: 'podIP(s), phase and conditions' },
    { group: '', resource: 'events', verbs: ['create'], why: 'FailedCreatePodSandBox when CNI ADD fails' },
  ];
}

/** The Kubernetes user name of a node's kubelet. */
export const kubeletUser = (node: string): string => `system:node:${node}`;
