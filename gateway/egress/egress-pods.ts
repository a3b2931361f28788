import type { NamespaceInfo, PodInfo } from './egress-resolve.js';

/**
 * The cluster's pods and namespaces as egress resolution needs them, and the view the agents follow them through.
 * The conversion is pure; the view (informers on Pods and Namespaces) is implemented where the Kubernetes client
 * lives (member-agent/cluster/egress-cluster-view.ts) and handed to the agents by the CLI.
 */

/** The fields of a Pod object egress reads (a client-node V1Pod or a plain JSON object both fit). */
export interface PodObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> | undefined };
  readonly spec?: { readonly hostNetwork?: boolean | undefined; readonly nodeName?: string | undefined } | undefined;
  readonly status?: {
    readonly phase?: string | undefined;
    readonly podIP?: string | undefined;
    readonly podIPs?: readonly { readonly ip?: string | undefined }[] | undefined;
  } | undefined;
}

export interface NamespaceObject {
  readonly metadata?: { readonly name?: string; readonly labels?: Readonly<Record<string, string>> | undefined };
}

/**
 * A pod as egress sees it, or undefined when no policy may select it: no IP yet (nothing to steer), on the host
 * network (its address is the node's: SNATing it would take the node's own traffic), or finished (Succeeded /
 * Failed: its address is free and may already belong to another pod).
 */
export function podInfoOf(o: PodObject): PodInfo | undefined {
  const name = o.metadata?.name;
  if (!name || o.spec?.hostNetwork) return undefined;
  const phase = o.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ips = [...new Set([...(o.status?.podIPs ?? []).map((p) => p.ip), o.status?.podIP].filter((ip): ip is string => Boolean(ip)))].sort();
  if (ips.length === 0) return undefined;
  return { namespace: o.metadata?.namespace ?? 'default', name, labels: { ...(o.metadata?.labels ?? {}) }, ips };
}

export function namespaceInfoOf(o: NamespaceObject): NamespaceInfo | undefined {
  const name = o.metadata?.name;
  if (!name) return undefined;
  // The API server sets it on every namespace; set it here too so a selector on it works on an older server.
  return { name, labels: { 'kubernetes.io/metadata.name': name, ...(o.metadata?.labels ?? {}) } };
}

/** Two pod views select the same way (same labels and addresses): a status update that changed neither is no change. */
export function samePodInfo(a: PodInfo | undefined, b: PodInfo | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The live pods and namespaces an agent resolves selectors over. */
export interface EgressClusterView {
  /**
   * Starts following the cluster; `onChange` is called (synchronously, cheaply) whenever a pod's labels or
   * addresses or a namespace's labels changed, or a pod appeared or went. Resolves once the first lists are in (or
   * after the view's start timeout: the agent then resolves with what it has and catches up on the next change).
   */
  start(onChange: () => void): Promise<void>;
  /** The pods that may be selected (see podInfoOf) and every namespace, right now. */
  snapshot(): { pods: PodInfo[]; namespaces: NamespaceInfo[] };
  stop(): Promise<void>;
}
