import * as k8s from '@kubernetes/client-node';
import type { KubeObject } from './kube-client.js';
import { accessCheckedWatch } from './access-guard.js';

/**
 * client-node informers with the two fixes the toolchain notes call for: an informer that hit an error (other than
 * 410, which it handles by relisting) is restarted after a back-off, and `stop()` sets a flag first, because
 * stopping fires an AbortError through the same `error` callback.
 */
export class ResilientInformer {
  readonly informer: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;
  private stopping = false;
  private backoffMs = 200;
  private restartTimer: NodeJS.Timeout | undefined;
  private listedOnce = false;
  private failing = false;
  errors = 0;

  constructor(
    kc: k8s.KubeConfig,
    readonly path: string,
    list: () => Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }>,
    onChange: (type: 'add' | 'update' | 'delete', obj: KubeObject) => void,
    private readonly onError: (e: unknown) => void = () => undefined,
    /** e.g. `spec.nodeName=n1`; applied to the watch here and to the list by `list` (client-node filters neither). */
    fieldSelector?: string,
  ) {
    const listFn = async (): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> => {
      const l = (await list()) as k8s.KubernetesListObject<k8s.KubernetesObject>;
      this.listedOnce = true;
      return l;
    };
    // makeInformer() drops a field selector; ListWatch itself passes it on the watch. The watch is checked against
    // the component's declared access like its API calls (access-guard.ts).
    this.informer = new k8s.ListWatch(path, accessCheckedWatch(kc), listFn, false, undefined, fieldSelector);
    this.informer.on('add', (o) => onChange('add', o as unknown as KubeObject));
    this.informer.on('update', (o) => onChange('update', o as unknown as KubeObject));
    this.informer.on('delete', (o) => onChange('delete', o as unknown as KubeObject));
    this.informer.on('connect', () => {
      this.backoffMs = 200;
      this.failing = false;
    });
    this.informer.on('error', (e) => {
      if (this.stopping) return;
      this.failing = true;
      this.errors++;
      this.onError(e);
      this.restartTimer = setTimeout(() => {
        if (!this.stopping) void this.informer.start().catch((err: unknown) => this.onError(err));
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
    });
  }

  /** True once a list succeeded, so the cache reflects the cluster (possibly slightly behind). */
  get synced(): boolean {
    return this.listedOnce;
  }

  /**
   * Listed and not failing since its last (re)connect: the cache is complete up to watch latency. While its watch
   * is down the cache misses what was created meanwhile, so a "complete set" must not be read from it then.
   */
  get fresh(): boolean {
    return this.listedOnce && !this.failing;
  }

  async start(): Promise<void> {
    this.stopping = false;
    await this.informer.start().catch((e: unknown) => this.onError(e));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  list(): KubeObject[] {
    return this.informer.list() as unknown as KubeObject[];
  }
}
