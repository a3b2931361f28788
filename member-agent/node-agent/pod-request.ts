import { namespaceDefaultsFromAnnotations, type AllocationRequest, type PoolCandidates } from '../../ipam/index.js';

/** What the node agent knows of the pod behind a CNI call (from its informers, or one GET). */
export interface PodFacts {
  namespace: string;
  name: string;
  uid?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Set for a pod a StatefulSet controls: its addresses stay with the ordinal. */
  statefulSet?: { name: string; ordinal: number };
}

/** The pod, its namespace and this node, as pool selection needs them. */
export interface PodView {
  pod: PodFacts;
  namespace: { labels: Record<string, string>; annotations: Record<string, string> };
  node: { name: string; labels: Record<string, string> };
}

/**
 * The engine's allocation request for a pod: its annotations and labels, its namespace's default pools and labels,
 * this node's labels, and the netconf pools. The precedence itself (pod annotation → namespace default → netconf →
 * cluster default) is the engine's `selectPools`; this only hands it every source. Pure. Throws
 * INVALID_POOL_ANNOTATION when the namespace's default-pool annotation is malformed (the pod's own annotations are
 * parsed by the engine, with the same error).
 */
export function podAllocationRequest(view: PodView | undefined, nodeName: string, netconfPools: PoolCandidates | undefined): AllocationRequest {
  const netconf = netconfPools && ((netconfPools.ipv4?.length ?? 0) > 0 || (netconfPools.ipv6?.length ?? 0) > 0) ? { netconfPools } : {};
  if (!view) return { node: { name: nodeName }, ...netconf };
  const nsDefaults = namespaceDefaultsFromAnnotations(view.namespace.annotations);
  return {
    node: { name: view.node.name, labels: { ...view.node.labels } },
    podAnnotations: { ...view.pod.annotations },
    podLabels: { ...view.pod.labels },
    namespaceLabels: { ...view.namespace.labels },
    ...(nsDefaults ? { namespaceDefaults: nsDefaults } : {}),
    ...netconf,
  };
}
