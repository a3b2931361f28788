import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { StraitError } from '../../api/index.js';
import type { KindDefinition } from '../../crds/index.js';
import { kubeconfigProblem } from './kubeconfig-problem.js';

/**
 * The few Kubernetes calls Strait's cluster side makes, over @kubernetes/client-node 1.x. Errors become
 * StraitErrors (`KUBE_UNREACHABLE` when the server cannot be reached); a 404 on get is `undefined`, and 409s are
 * surfaced as `KUBE_API_ERROR` with `details.status = 409` so callers can retry on fresh data.
 */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string | Date;
    creationTimestamp?: string | Date;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
}

export function loadKubeConfig(file?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (file) {
    // Say what is wrong with the file before client-node trips over it (it reports its own internals).
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : msg(e);
      throw new StraitError('KUBECONFIG_INVALID', `cannot read kubeconfig ${file}: ${why}`, { file, problem: why });
    }
    const problem = kubeconfigProblem(text);
    if (problem) throw new StraitError('KUBECONFIG_INVALID', `kubeconfig ${file}: ${problem}`, { file, problem });
  }
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromCluster();
  } catch (e) {
    throw new StraitError('KUBECONFIG_INVALID', `cannot load ${file ? `kubeconfig ${file}` : 'the in-cluster config'}: ${msg(e)}`);
  }
  if (!kc.getCurrentCluster()) throw new StraitError('KUBECONFIG_INVALID', `kubeconfig ${file ?? '(in-cluster)'} has no current cluster`);
  return kc;
}

export function statusOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown; statusCode?: unknown } | null)?.code ?? (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Maps a client-node failure to a StraitError. */
export function kubeError(e: unknown, what: string, server: string): StraitError {
  if (e instanceof StraitError) return e;
  const status = statusOf(e);
  if (status === undefined) {
    return new StraitError('KUBE_UNREACHABLE', `Kubernetes API server ${server} unreachable while trying to ${what}: ${msg(e)}`, { server });
  }
  let reason: string;
  try {
    const body = (e as { body?: unknown }).body;
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string } | undefined;
    reason = parsed?.message ?? '';
  } catch {
    reason = String((e as { body?: unknown }).body ?? '');
  }
  return new StraitError('KUBE_API_ERROR', `Kubernetes API server refused to ${what} (${status})${reason ? `: ${reason}` : ''}`, { status, server });
}

export const isConflict = (e: unknown): boolean =>
  statusOf(e) === 409 || (e instanceof StraitError && (e.details as { status?: number } | undefined)?.status === 409);
export const isNotFound = (e: unknown): boolean =>
  statusOf(e) === 404 || (e instanceof StraitError && (e.details as { status?: number } | undefined)?.status === 404);

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export interface CustomRef {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const refOf = (d: KindDefinition): CustomRef => ({ group: d.group, version: d.version, plural: d.plural, namespaced: d.scope === 'Namespaced' });

export class KubeClient {
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly coord: k8s.CoordinationV1Api;
  readonly ext: k8s.ApiextensionsV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly server: string;

  constructor(readonly kc: k8s.KubeConfig) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.coord = kc.makeApiClient(k8s.CoordinationV1Api);
    this.ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.server = kc.getCurrentCluster()?.server ?? '(unknown)';
  }

  /** Runs one call, mapping its failure; `what` reads "to <what>" in messages. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw kubeError(e, what, this.server);
    }
  }

  async version(): Promise<string> {
    const v = await this.call('read its version', () => this.kc.makeApiClient(k8s.VersionApi).getCode());
    return v.gitVersion;
  }

  // ------------------------------------------------------------------------------------------ custom objects
  async listCustom(r: CustomRef, ns?: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const list = (await this.call(`list ${r.plural}.${r.group}`, () =>
      r.namespaced && ns
        ? this.custom.listNamespacedCustomObject({ group: r.group, version: r.version, plural: r.plural, namespace: ns })
        : this.custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural }),
    )) as { items: KubeObject[]; metadata?: { resourceVersion?: string } };
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  async getCustom(r: CustomRef, name: string, ns?: string): Promise<KubeObject | undefined> {
    try {
      return (await (r.namespaced
        ? this.custom.getNamespacedCustomObject({ group: r.group, version: r.version, plural: r.plural, namespace: ns ?? 'default', name })
        : this.custom.getClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, name }))) as KubeObject;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw kubeError(e, `read ${r.plural}.${r.group} ${name}`, this.server);
    }
  }

  createCustom(r: CustomRef, body: KubeObject): Promise<KubeObject> {
    return this.call(`create ${r.plural}.${r.group} ${body.metadata.name}`, async () => (await (r.namespaced
      ? this.custom.createNamespacedCustomObject({ group: r.group, version: r.version, plural: r.plural, namespace: body.metadata.namespace ?? 'default', body })
      : this.custom.createClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, body }))) as KubeObject);
  }

  /** JSON merge patch; with `status: true` on the status subresource. Put `metadata.resourceVersion` in the patch for a CAS. */
  patchCustom(r: CustomRef, name: string, patch: object, opts: { ns?: string; status?: boolean } = {}): Promise<KubeObject> {
    const base = { group: r.group, version: r.version, plural: r.plural, name, body: patch };
    return this.call(`patch ${r.plural}.${r.group} ${name}${opts.status ? ' status' : ''}`, async () => {
      if (r.namespaced) {
        const p = { ...base, namespace: opts.ns ?? 'default' };
        return (await (opts.status ? this.custom.patchNamespacedCustomObjectStatus(p, MERGE) : this.custom.patchNamespacedCustomObject(p, MERGE))) as KubeObject;
      }
      return (await (opts.status ? this.custom.patchClusterCustomObjectStatus(base, MERGE) : this.custom.patchClusterCustomObject(base, MERGE))) as KubeObject;
    });
  }

  replaceCustom(r: CustomRef, body: KubeObject): Promise<KubeObject> {
    const name = body.metadata.name;
    return this.call(`replace ${r.plural}.${r.group} ${name}`, async () => (await (r.namespaced
      ? this.custom.replaceNamespacedCustomObject({ group: r.group, version: r.version, plural: r.plural, namespace: body.metadata.namespace ?? 'default', name, body })
      : this.custom.replaceClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, name, body }))) as KubeObject);
  }

  /** Deletes; true if it existed. */
  async deleteCustom(r: CustomRef, name: string, ns?: string): Promise<boolean> {
    try {
      await (r.namespaced
        ? this.custom.deleteNamespacedCustomObject({ group: r.group, version: r.version, plural: r.plural, namespace: ns ?? 'default', name })
        : this.custom.deleteClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, name }));
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw kubeError(e, `delete ${r.plural}.${r.group} ${name}`, this.server);
    }
  }

  // ------------------------------------------------------------------------------------------ core
  async readSecret(ns: string, name: string): Promise<k8s.V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace: ns, name });
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw kubeError(e, `read Secret ${ns}/${name}`, this.server);
    }
  }

  async readNamespace(name: string): Promise<k8s.V1Namespace | undefined> {
    try {
      return await this.core.readNamespace({ name });
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw kubeError(e, `read Namespace ${name}`, this.server);
    }
  }
}
