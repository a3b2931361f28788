import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { deleteNetns, ensureNetns, netnsName, run, type Logger } from '../../host/index.js';
import { cniErrorMessage, pluginNetconf, podCniArgs, readConflist, resultAddresses, type Conflist, type SandboxPod } from './cni-chain.js';

/**
 * The lab's kubelet stand-in (lab code, not a Strait component): one per lab node. It registers its Node, watches
 * the Pods bound to it (`spec.nodeName`) and, as kubelet + containerd would for a pod sandbox, creates the pod's
 * network namespace, runs the CNI conflist of its conf dir (ADD in order, DEL in reverse with the cached result),
 * writes `status.podIP(s)`, the phase and the Ready condition through the status subresource, and tears the sandbox
 * down when the pod goes. A failed ADD is cleaned up with DEL (as containerd does), reported as a
 * FailedCreatePodSandBox Event and a False PodReadyToStartContainers condition, and retried with back-off.
 * No containers run: a pod is its network namespace.
 */

export interface LabKubeletOptions {
  kubeConfig: k8s.KubeConfig;
  nodeName: string;
  runId: string;
  /** The node's network namespace: plugins run there (their host side: the bridge, the veths' peers). */
  nodeNetns: string;
  /** The node's address (status.hostIP, the Node's InternalIP). */
  nodeIp?: string;
  /** Labels of the Node object it registers. */
  nodeLabels?: Record<string, string>;
  confDir: string;
  /** CNI_PATH entries, in order (the installed plugin's dir first, then the reference plugins). */
  binDirs: string[];
  /** Cached ADD results (libcni's /var/lib/cni/results), one file per sandbox. */
  stateDir: string;
  log: Logger;
  /** First retry after a failed ADD (doubling up to 8 s); default 500 ms. */
  retryMs?: number;
}

interface Sandbox {
  containerId: string;
  netns: string;
  pod: SandboxPod;
  result?: Record<string, unknown>;
  conflist?: Conflist;
}

const key = (ns: string | undefined, name: string | undefined): string => `${ns ?? ''}/${name ?? ''}`;

export class LabKubelet {
  private readonly core: k8s.CoreV1Api;
  private informer: k8s.Informer<k8s.V1Pod> | undefined;
  private stopping = false;
  /** Sandboxes by pod uid. */
  private readonly sandboxes = new Map<string, Sandbox>();
  /** Work on one pod runs one step at a time (by uid). */
  private readonly chains = new Map<string, Promise<void>>();
  /** Pods currently bound here, by uid (the informer's view). */
  private readonly live = new Map<string, k8s.V1Pod>();
  private readonly failures = new Map<string, number>();
  /** Pods waiting for their retry timer (their own status writes must not start an ADD early). */
  private readonly retrying = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly o: LabKubeletOptions) {
    this.core = o.kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  async start(): Promise<void> {
    mkdirSync(this.o.stateDir, { recursive: true });
    this.loadCache();
    await this.registerNode();
    const selector = `spec.nodeName=${this.o.nodeName}`;
    // makeInformer() drops a field selector; ListWatch passes it on the watch (the list applies it itself).
    const informer = new k8s.ListWatch<k8s.V1Pod>('/api/v1/pods', new k8s.Watch(this.o.kubeConfig), () => this.core.listPodForAllNamespaces({ fieldSelector: selector }), false, undefined, selector);
    informer.on('add', (p) => this.seen(p));
    informer.on('update', (p) => this.seen(p));
    informer.on('delete', (p) => this.gone(p));
    informer.on('error', (e: unknown) => {
      if (this.stopping) return;
      this.o.log.warn({ err: e }, 'pod watch failed; restarting in 1 s');
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.stopping) void informer.start().catch(() => undefined);
      }, 1000);
      this.timers.add(t);
    });
    this.informer = informer;
    await informer.start();
    // Sandboxes of pods that went while this kubelet was down (a pod deleted, then the kubelet restarted).
    for (const uid of this.sandboxes.keys()) if (!this.live.has(uid)) this.enqueue(uid, () => this.teardown(uid));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.informer?.stop();
    await Promise.all([...this.chains.values()]);
  }

  /** Sandboxes set up now, by pod `namespace/name` (for the process's status line). */
  get podCount(): number {
    return this.sandboxes.size;
  }

  private async registerNode(): Promise<void> {
    const body: k8s.V1Node = {
      metadata: { name: this.o.nodeName, labels: { 'kubernetes.io/hostname': this.o.nodeName, 'kubernetes.io/os': 'linux', ...this.o.nodeLabels } },
      spec: {},
    };
    try {
      await this.core.createNode({ body });
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
    const now = new Date().toISOString();
    await this.core.patchNodeStatus(
      {
        name: this.o.nodeName,
        body: {
          status: {
            addresses: [...(this.o.nodeIp ? [{ type: 'InternalIP', address: this.o.nodeIp }] : []), { type: 'Hostname', address: this.o.nodeName }],
            conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'lab kubelet stand-in is posting ready status', lastHeartbeatTime: now as unknown as Date, lastTransitionTime: now as unknown as Date }],
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  private seen(p: k8s.V1Pod): void {
    const uid = p.metadata?.uid;
    if (!uid || p.spec?.nodeName !== this.o.nodeName) return;
    if (p.metadata?.deletionTimestamp) {
      this.gone(p);
      return;
    }
    this.live.set(uid, p);
    if (!this.sandboxes.has(uid) && !this.chains.has(uid) && !this.retrying.has(uid)) this.enqueue(uid, () => this.setup(uid));
  }

  private gone(p: k8s.V1Pod): void {
    const uid = p.metadata?.uid;
    if (!uid) return;
    this.live.delete(uid);
    this.enqueue(uid, () => this.teardown(uid));
  }

  private enqueue(uid: string, step: () => Promise<void>): void {
    const prev = this.chains.get(uid) ?? Promise.resolve();
    const next = prev
      .then(step)
      .catch((e: unknown) => this.o.log.error({ err: e, uid }, 'pod sandbox step failed'))
      .finally(() => {
        if (this.chains.get(uid) === next) this.chains.delete(uid);
      });
    this.chains.set(uid, next);
  }

  private async setup(uid: string): Promise<void> {
    const pod = this.live.get(uid);
    if (!pod || this.sandboxes.has(uid) || this.stopping) return;
    const sp: SandboxPod = { namespace: pod.metadata?.namespace ?? 'default', name: pod.metadata?.name ?? '', uid };
    const sandbox: Sandbox = { containerId: randomBytes(32).toString('hex'), netns: netnsName(this.o.runId, `p${uid.replace(/-/g, '').slice(0, 10)}`), pod: sp };
    await ensureNetns(sandbox.netns);
    try {
      sandbox.conflist = readConflist(this.o.confDir);
      let prev: Record<string, unknown> | undefined;
      for (const plugin of sandbox.conflist.plugins) prev = await this.exec('ADD', sandbox, plugin, prev);
      sandbox.result = prev;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      // containerd cleans up a failed sandbox with DEL before it retries (the IPAM plugin frees a partial ADD).
      await this.delChain(sandbox).catch(() => undefined);
      await deleteNetns(sandbox.netns);
      await this.reportFailure(pod, why);
      this.retryLater(uid);
      return;
    }
    this.sandboxes.set(uid, sandbox);
    this.saveCache(uid, sandbox);
    this.failures.delete(uid);
    const ips = resultAddresses(sandbox.result);
    this.o.log.info({ pod: key(sp.namespace, sp.name), ips, netns: sandbox.netns }, 'pod sandbox ready');
    if (!this.live.has(uid)) return; // deleted meanwhile: the queued teardown follows
    await this.writeStatus(pod, ips).catch((e: unknown) => this.o.log.warn({ err: e, pod: key(sp.namespace, sp.name) }, 'could not write pod status'));
  }

  private retryLater(uid: string): void {
    const n = (this.failures.get(uid) ?? 0) + 1;
    this.failures.set(uid, n);
    const ms = Math.min(8000, (this.o.retryMs ?? 500) * 2 ** (n - 1));
    this.retrying.add(uid);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.retrying.delete(uid);
      if (this.live.has(uid) && !this.stopping) this.enqueue(uid, () => this.setup(uid));
    }, ms);
    this.timers.add(t);
  }

  private async teardown(uid: string): Promise<void> {
    this.failures.delete(uid);
    this.retrying.delete(uid);
    const sandbox = this.sandboxes.get(uid);
    if (!sandbox) return;
    try {
      await this.delChain(sandbox);
    } catch (e) {
      // DEL must succeed eventually (the spec): the IPAM side's pod GC frees what a lost DEL leaves behind.
      this.o.log.warn({ err: e, pod: key(sandbox.pod.namespace, sandbox.pod.name) }, 'CNI DEL failed; removing the sandbox anyway');
    }
    await deleteNetns(sandbox.netns);
    this.sandboxes.delete(uid);
    rmSync(join(this.o.stateDir, `${uid}.json`), { force: true });
    this.o.log.info({ pod: key(sandbox.pod.namespace, sandbox.pod.name), netns: sandbox.netns }, 'pod sandbox removed');
  }

  private async delChain(s: Sandbox): Promise<void> {
    const list = s.conflist ?? readConflist(this.o.confDir);
    const errors: string[] = [];
    for (const plugin of [...list.plugins].reverse()) {
      try {
        await this.exec('DEL', s, plugin, s.result, list);
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (errors.length) throw new Error(errors.join('; '));
  }

  /** One plugin call, as libcni makes it: the plugin binary from CNI_PATH, run in the node's namespace. */
  private async exec(command: 'ADD' | 'DEL', s: Sandbox, plugin: Record<string, unknown>, prev: Record<string, unknown> | undefined, list = s.conflist): Promise<Record<string, unknown> | undefined> {
    const type = String(plugin.type);
    const binary = this.o.binDirs.map((d) => join(d, type)).find((p) => existsSync(p));
    if (!binary) throw new Error(`failed to find plugin "${type}" in path [${this.o.binDirs.join(' ')}]`);
    const input = JSON.stringify(pluginNetconf(list!, plugin, prev));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: s.containerId,
      CNI_NETNS: `/var/run/netns/${s.netns}`,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: podCniArgs(s.pod, s.containerId),
      CNI_PATH: this.o.binDirs.join(':'),
    };
    const r = await run(['ip', 'netns', 'exec', this.o.nodeNetns, binary], { input, env, allowFailure: true, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`plugin type="${type}" failed (${command.toLowerCase()}): ${cniErrorMessage(r.stdout, r.stderr)}`);
    if (command === 'DEL' || !r.stdout.trim()) return prev;
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  private async writeStatus(pod: k8s.V1Pod, ips: string[]): Promise<void> {
    const now = new Date().toISOString() as unknown as Date;
    const cond = (type: string): k8s.V1PodCondition => ({ type, status: 'True', lastTransitionTime: now });
    await this.core.patchNamespacedPodStatus(
      {
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        body: {
          status: {
            phase: 'Running',
            ...(ips[0] ? { podIP: ips[0] } : {}),
            podIPs: ips.map((ip) => ({ ip })),
            ...(this.o.nodeIp ? { hostIP: this.o.nodeIp, hostIPs: [{ ip: this.o.nodeIp }] } : {}),
            startTime: now,
            conditions: ['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready', 'PodScheduled'].map(cond),
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  /** What kubelet shows for a sandbox it cannot create: an Event and the pod's conditions (it stays Pending). */
  private async reportFailure(pod: k8s.V1Pod, why: string): Promise<void> {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const message = `Failed to create pod sandbox: failed to setup network for sandbox: ${why}`;
    this.o.log.warn({ pod: key(namespace, name), why }, 'pod sandbox failed');
    const now = new Date().toISOString() as unknown as Date;
    try {
      // The condition first, then the Event: whoever sees the Event (kubectl describe, a test) finds the pod's
      // status already saying why. Written the other way round, a reader between the two writes saw an Event and a
      // pod with no condition (CI, 2026-12-06).
      await this.core.patchNamespacedPodStatus(
        {
          name,
          namespace,
          body: {
            status: {
              phase: 'Pending',
              conditions: [
                { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
                { type: 'PodReadyToStartContainers', status: 'False', reason: 'FailedCreatePodSandBox', message, lastTransitionTime: now },
                { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'the pod sandbox has no network', lastTransitionTime: now },
              ],
            },
          },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace, uid: pod.metadata!.uid! },
          reason: 'FailedCreatePodSandBox',
          message,
          type: 'Warning',
          source: { component: 'kubelet', host: this.o.nodeName },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (e) {
      this.o.log.warn({ err: e, pod: key(namespace, name) }, 'could not report the sandbox failure');
    }
  }

  private saveCache(uid: string, s: Sandbox): void {
    writeFileSync(join(this.o.stateDir, `${uid}.json`), JSON.stringify(s));
  }

  private loadCache(): void {
    for (const f of readdirSync(this.o.stateDir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const s = JSON.parse(readFileSync(join(this.o.stateDir, f), 'utf8')) as Sandbox;
        this.sandboxes.set(f.slice(0, -5), s);
      } catch {}
    }
  }
}
