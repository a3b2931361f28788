import * as k8s from '@kubernetes/client-node';
import { StraitError } from '../../api/index.js';
import type { Logger } from '../../host/index.js';
import { ResilientInformer } from '../cluster/informer-set.js';
import { kubeError, statusOf, type KubeObject } from '../cluster/kube-client.js';
import type { PodIdentity } from './ipam-service.js';
import { statefulSetOfPod } from './pod-gc-plan.js';
import { accessChecked } from '../cluster/access-guard.js';
import { nodeAgentAccess } from '../cluster/component-access.js';
import type { PodFacts, PodView } from './pod-request.js';

export interface NodePodDirectoryOptions {
  kubeConfig: k8s.KubeConfig;
  nodeName: string;
  log: Logger;
  /** How long one GET (a pod, namespace or node missing from the cache) may take before the ADD fails (default 3 s). */
  getTimeoutMs?: number;
  /** How long `start()` waits for the first lists (default 5 s): an API server that does not answer must not keep the socket closed. */
  startTimeoutMs?: number;
}

/** An object fetched with a GET because the cache did not have it yet; dropped once its informer delivers it. */
const FETCHED_LIMIT = 1024;

/**
 * What the node agent knows of its pods: informers on this node's Pods (`spec.nodeName=<node>`, so the watch scales
 * with the node), on the Namespaces (labels and default-pool annotations) and on its own Node (labels). A CNI ADD
 * reads the pod, its namespace and the node from these caches, so a warm cache costs no API round trip. Kubelet runs
 * ADD right after the pod is bound, often before the watch delivered it: then the pod (or a namespace just created)
 * is read with one GET, kept until its informer catches up, never with a list.
 *
 * When a GET fails (the API server is unreachable, or answers an error) the ADD fails with KUBE_UNREACHABLE /
 * KUBE_API_ERROR, which the CNI handler answers as "try again later": kubelet retries the sandbox. Allocating from
 * the namespace alone would pick a pool the pod's annotations or labels may forbid, and an address is hard to take
 * back from a running pod; a pod that starts a little later is the smaller harm.
 */
export class NodePodDirectory {
  /** Shared with pod GC, so the node's Pods are watched once. */
  readonly pods: ResilientInformer;
  private readonly namespaces: ResilientInformer;
  private readonly node: ResilientInformer;
  private readonly core: k8s.CoreV1Api;
  private readonly fetchedPods = new Map<string, KubeObject>();
  private readonly fetchedNamespaces = new Map<string, KubeObject>();
  private fetchedNode: KubeObject | undefined;
  private readonly getTimeoutMs: number;
  private readonly server: string;
  /** GETs made because the cache did not have the object (tests check a warm cache makes none). */
  readonly stats = { podGets: 0, namespaceGets: 0, nodeGets: 0 };

  constructor(private readonly o: NodePodDirectoryOptions) {
    this.getTimeoutMs = o.getTimeoutMs ?? 3_000;
    this.server = o.kubeConfig.getCurrentCluster()?.server ?? '(in-cluster)';
    // Every call is checked against the node agent's declared access, which is also what its RBAC grants.
    const kc = accessChecked(o.kubeConfig, nodeAgentAccess());
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    const onError = (what: string) => (e: unknown) => o.log.debug({ err: e }, `${what} informer error (restarting)`);
    const podSelector = `spec.nodeName=${o.nodeName}`;
    this.pods = new ResilientInformer(
      kc, '/api/v1/pods',
      () => this.core.listPodForAllNamespaces({ fieldSelector: podSelector }),
      (_t, obj) => this.fetchedPods.delete(`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`),
      onError('pod'),
      podSelector,
    );
    this.namespaces = new ResilientInformer(
      kc, '/api/v1/namespaces',
      () => this.core.listNamespace(),
      (_t, obj) => this.fetchedNamespaces.delete(obj.metadata.name),
      onError('namespace'),
    );
    const nodeSelector = `metadata.name=${o.nodeName}`;
    this.node = new ResilientInformer(
      kc, '/api/v1/nodes',
      () => this.core.listNode({ fieldSelector: nodeSelector }),
      () => (this.fetchedNode = undefined),
      onError('node'),
      nodeSelector,
    );
  }

  /** True once all three caches were listed. */
  get synced(): boolean {
    return this.pods.synced && this.namespaces.synced && this.node.synced;
  }

  async start(): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    const all = Promise.all([this.pods.start(), this.namespaces.start(), this.node.start()]);
    await Promise.race([all, new Promise((r) => (t = setTimeout(r, this.o.startTimeoutMs ?? 5_000)))]).finally(() => clearTimeout(t));
    if (!this.synced) this.o.log.warn({ server: this.server }, 'the Kubernetes API server did not answer the first lists: ADDs read pods with a GET until it does');
  }

  async stop(): Promise<void> {
    await Promise.all([this.pods.stop(), this.namespaces.stop(), this.node.stop()]);
  }

  /**
   * The pod behind a CNI call, its namespace and this node; undefined when the call names no pod (no
   * `K8S_POD_NAMESPACE`/`K8S_POD_NAME`: not a Kubernetes pod). Throws KUBE_OBJECT_NOT_FOUND when the API server
   * does not know the pod (or knows another pod of that name), KUBE_UNREACHABLE / KUBE_API_ERROR when a GET fails.
   */
  async view(id: PodIdentity): Promise<PodView | undefined> {
    if (!id.podNamespace || !id.podName) return undefined;
    const [pod, ns, node] = await Promise.all([this.pod(id.podNamespace, id.podName, id.podUid), this.namespace(id.podNamespace), this.thisNode()]);
    return {
      pod: podFacts(pod),
      namespace: { labels: { ...(ns.metadata.labels ?? {}) }, annotations: { ...(ns.metadata.annotations ?? {}) } },
      node: { name: this.o.nodeName, labels: { ...(node.metadata.labels ?? {}) } },
    };
  }

  private async pod(namespace: string, name: string, uid: string | undefined): Promise<KubeObject> {
    const key = `${namespace}/${name}`;
    const fits = (p: KubeObject | undefined): p is KubeObject => p !== undefined && (!uid || p.metadata.uid === uid);
    const cached = this.pods.informer.get(name, namespace) as unknown as KubeObject | undefined;
    if (fits(cached)) return cached;
    const fetched = this.fetchedPods.get(key);
    if (fits(fetched)) return fetched;
    this.stats.podGets++;
    const p = await this.get(() => this.core.readNamespacedPod({ name, namespace }), 'Pod', name, namespace);
    if (uid && p.metadata.uid !== uid) {
      throw new StraitError('KUBE_OBJECT_NOT_FOUND', `pod ${key} with uid ${uid} no longer exists (the API server has uid ${p.metadata.uid ?? '?'}: the pod was re-created)`, {
        kind: 'Pod', namespace, name, uid,
      });
    }
    this.remember(this.fetchedPods, key, p);
    return p;
  }

  private async namespace(name: string): Promise<KubeObject> {
    const cached = this.namespaces.informer.get(name) as unknown as KubeObject | undefined;
    if (cached) return cached;
    const fetched = this.fetchedNamespaces.get(name);
    if (fetched) return fetched;
    this.stats.namespaceGets++;
    const ns = await this.get(() => this.core.readNamespace({ name }), 'Namespace', name);
    this.remember(this.fetchedNamespaces, name, ns);
    return ns;
  }

  private async thisNode(): Promise<KubeObject> {
    const cached = this.node.informer.get(this.o.nodeName) as unknown as KubeObject | undefined;
    if (cached) return cached;
    if (this.fetchedNode) return this.fetchedNode;
    this.stats.nodeGets++;
    this.fetchedNode = await this.get(() => this.core.readNode({ name: this.o.nodeName }), 'Node', this.o.nodeName);
    return this.fetchedNode;
  }

  private remember(m: Map<string, KubeObject>, key: string, obj: KubeObject): void {
    // Objects the informer never delivers (its watch is down) must not pile up.
    if (m.size >= FETCHED_LIMIT) m.delete(m.keys().next().value!);
    m.set(key, obj);
  }

  private async get(call: () => Promise<unknown>, kind: string, name: string, namespace?: string): Promise<KubeObject> {
    const what = `${kind} ${namespace ? `${namespace}/` : ''}${name}`;
    let t: NodeJS.Timeout | undefined;
    try {
      return (await Promise.race([
        call(),
        new Promise<never>((_, reject) => {
          t = setTimeout(() => reject(new Error(`no answer within ${this.getTimeoutMs} ms`)), this.getTimeoutMs);
        }),
      ])) as KubeObject;
    } catch (e) {
      if (statusOf(e) === 404) {
        const hint = kind === 'Node' ? ' (--node-name must be the Kubernetes name of this node)' : '';
        throw new StraitError('KUBE_OBJECT_NOT_FOUND', `${what} is not known to the Kubernetes API server${hint}`, { kind, name, ...(namespace ? { namespace } : {}) });
      }
      throw kubeError(e, `read ${what}`, this.server);
    } finally {
      clearTimeout(t);
    }
  }
}

function podFacts(p: KubeObject): PodFacts {
  const md = p.metadata;
  const owners = (md as { ownerReferences?: { kind: string; name: string; apiVersion?: string; controller?: boolean }[] }).ownerReferences;
  const sts = statefulSetOfPod({ name: md.name, ...(owners ? { ownerReferences: owners } : {}), ...(md.labels ? { labels: md.labels } : {}) });
  return {
    namespace: md.namespace ?? 'default',
    name: md.name,
    ...(md.uid ? { uid: md.uid } : {}),
    labels: { ...(md.labels ?? {}) },
    annotations: { ...(md.annotations ?? {}) },
    ...(sts ? { statefulSet: sts } : {}),
  };
}
