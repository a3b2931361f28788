import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../host/index.js';
import { namespaceInfoOf, podInfoOf, samePodInfo, type EgressClusterView, type NamespaceInfo, type PodInfo } from '../../gateway/index.js';
import { accessChecked } from './access-guard.js';
import { ResilientInformer } from './informer-set.js';
import type { ComponentAccess } from './kube-access.js';

export interface KubeEgressClusterViewOptions {
  readonly kubeConfig: k8s.KubeConfig;
  /** The component whose declared access (and RBAC) the calls run under: the gateway agent or the node agent. */
  readonly access: ComponentAccess;
  /** Only this node's pods (`spec.nodeName`): node-side steering only steers what its own pods send. */
  readonly nodeName?: string;
  readonly log: Logger;
  /** How long `start()` waits for the first lists (default 5 s); the agent then starts with what it has. */
  readonly startTimeoutMs?: number;
}

/**
 * The live pods and namespaces egress selectors resolve over, from two informers (Pods, cluster-wide or one node's;
 * Namespaces). It reports a change only when something a selector can see changed (a pod's labels or addresses, it
 * appeared or went, a namespace's labels): the many status updates of a running pod cost no re-resolution.
 */
export class KubeEgressClusterView implements EgressClusterView {
  private readonly pods = new Map<string, PodInfo>();
  private readonly namespaces = new Map<string, NamespaceInfo>();
  private readonly podInformer: ResilientInformer;
  private readonly nsInformer: ResilientInformer;
  private onChange: () => void = () => undefined;

  constructor(private readonly o: KubeEgressClusterViewOptions) {
    // Every call is checked against the component's declared access, which is also what its RBAC grants.
    const kc = accessChecked(o.kubeConfig, o.access);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const onError = (what: string) => (e: unknown) => o.log.debug({ err: e }, `egress ${what} informer error (restarting)`);
    const fieldSelector = o.nodeName ? `spec.nodeName=${o.nodeName}` : undefined;
    this.podInformer = new ResilientInformer(
      kc, '/api/v1/pods',
      () => core.listPodForAllNamespaces(fieldSelector ? { fieldSelector } : {}),
      (type, obj) => {
        const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
        const next = type === 'delete' ? undefined : podInfoOf(obj);
        if (samePodInfo(this.pods.get(key), next)) return;
        if (next) this.pods.set(key, next);
        else this.pods.delete(key);
        this.onChange();
      },
      onError('pod'),
      fieldSelector,
    );
    this.nsInformer = new ResilientInformer(
      kc, '/api/v1/namespaces',
      () => core.listNamespace(),
      (type, obj) => {
        const name = obj.metadata.name;
        const next = type === 'delete' ? undefined : namespaceInfoOf(obj);
        if (JSON.stringify(this.namespaces.get(name)) === JSON.stringify(next)) return;
        if (next) this.namespaces.set(name, next);
        else this.namespaces.delete(name);
        this.onChange();
      },
      onError('namespace'),
    );
  }

  get synced(): boolean {
    return this.podInformer.synced && this.nsInformer.synced;
  }

  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    let t: NodeJS.Timeout | undefined;
    const all = Promise.all([this.podInformer.start(), this.nsInformer.start()]);
    await Promise.race([all, new Promise((r) => (t = setTimeout(r, this.o.startTimeoutMs ?? 5_000)))]).finally(() => clearTimeout(t));
    if (!this.synced) {
      this.o.log.warn({ server: this.o.kubeConfig.getCurrentCluster()?.server }, 'egress: the Kubernetes API server did not answer the first lists; selectors match the pods seen so far and follow once it answers');
    }
  }

  snapshot(): { pods: PodInfo[]; namespaces: NamespaceInfo[] } {
    return { pods: [...this.pods.values()], namespaces: [...this.namespaces.values()] };
  }

  async stop(): Promise<void> {
    this.onChange = () => undefined;
    await Promise.all([this.podInformer.stop(), this.nsInformer.stop()]);
  }
}
