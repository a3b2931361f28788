import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { HttpError, kubeNow } from './http-answers.js';
import { jsonPatch, mergePatch, PatchError, type JsonPatchOp } from './patch.js';
import {
  apiVersionOf, builtinTypes, CRD_KEY, crdResourceType, groupResource, NS_KEY, resKey, type ResourceType,
} from './resource-types.js';
import { pruneUnknownFields } from './schema-pruning.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { serverSideApply } from './server-side-apply.js';
import type { ObjectStore, KubeObject } from './store.js';
import { strategicMergePatch } from './strategic-merge.js';
import { checkPrinterColumns } from './table.js';

/** Where a request points: a resource type, a namespace ('' for cluster scope or all namespaces), a name, a subresource. */
export interface Route {
  rt: ResourceType;
  ns: string;
  name?: string;
  sub?: string;
}

/** Per-request write options, from the query string (`dryRun`, `fieldValidation`, `fieldManager`, `force`). */
export interface WriteOptions {
  dryRun: boolean;
  fieldValidation: 'Ignore' | 'Warn' | 'Strict';
  fieldManager?: string;
  force: boolean;
  /** Filled by the write: `Warning` headers to send back (unknown fields under `Warn`). */
  warnings: string[];
}

export function writeOptions(params: URLSearchParams): WriteOptions {
  const fv = params.get('fieldValidation') ?? 'Warn';
  if (fv !== 'Ignore' && fv !== 'Warn' && fv !== 'Strict') throw new HttpError(400, 'BadRequest', `fieldValidation must be Ignore, Warn or Strict (got ${fv})`);
  const dryRun = params.get('dryRun');
  if (dryRun && dryRun !== 'All') throw new HttpError(400, 'BadRequest', `dryRun must be All (got ${dryRun})`);
  const manager = params.get('fieldManager');
  return { dryRun: dryRun === 'All', fieldValidation: fv, force: params.get('force') === 'true', warnings: [], ...(manager ? { fieldManager: manager } : {}) };
}

/**
 * The objects and the REST semantics of the test API server, without HTTP: create, get, list, replace, the four
 * patch types, delete with finalizers and owner-reference cascading, status subresource rules, CRD registration,
 * schema pruning and validation of custom resources.
 */
export class ApiObjects {
  readonly types = new Map<string, ResourceType>();

  constructor(readonly store: ObjectStore) {
    for (const t of builtinTypes()) this.types.set(resKey(t.group, t.plural), t);
  }

  typeFor(group: string, plural: string): ResourceType | undefined {
    return this.types.get(resKey(group, plural));
  }

  get(route: Route): KubeObject {
    const obj = this.store.get(resKey(route.rt.group, route.rt.plural), route.ns, route.name ?? '');
    if (!obj) throw this.notFound(route);
    return obj;
  }

  list(route: Route, params: URLSearchParams): KubeObject[] {
    const labels = parseLabelSelector(params.get('labelSelector'));
    const fields = this.fieldSelector(params.get('fieldSelector'));
    return this.store
      .list(resKey(route.rt.group, route.rt.plural), route.rt.namespaced && route.ns ? route.ns : undefined)
      .filter((o) => labels(o.metadata.labels) && fields(o as Record<string, unknown>));
  }

  fieldSelector(s: string | null): (o: Record<string, unknown>) => boolean {
    try {
      return parseFieldSelector(s);
    } catch (e) {
      throw new HttpError(400, 'BadRequest', e instanceof Error ? e.message : String(e));
    }
  }

  create(route: Route, obj: KubeObject, opts: WriteOptions): KubeObject {
    if (route.sub) throw new HttpError(405, 'MethodNotAllowed', 'create on a subresource');
    if (!obj || typeof obj !== 'object' || !obj.metadata) throw new HttpError(400, 'BadRequest', 'metadata is required');
    const rt = route.rt;
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    const name = obj.metadata.name;
    if (!name) throw new HttpError(422, 'Invalid', `${rt.kind} "": metadata.name: Required value`);
    if (rt.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== route.ns) throw new HttpError(400, 'BadRequest', 'the namespace of the object does not match the namespace of the request');
      const nsObj = this.store.get(NS_KEY, '', route.ns);
      if (!nsObj) throw new HttpError(404, 'NotFound', `namespaces "${route.ns}" not found`, { name: route.ns, kind: 'namespaces' });
      if (nsObj.metadata.deletionTimestamp) throw new HttpError(403, 'Forbidden', `namespace ${route.ns} is being terminated`);
    }
    const key = resKey(rt.group, rt.plural);
    if (this.store.get(key, route.ns, name)) {
      throw new HttpError(409, 'AlreadyExists', `${groupResource(rt)} "${name}" already exists`, { name, group: rt.group, kind: rt.plural });
    }
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    if (rt.kind === 'Secret') {
      stringDataToData(obj);
      if (!obj.type) obj.type = 'Opaque';
    }
    delete obj.metadata.resourceVersion;
    delete obj.metadata.deletionTimestamp;
    if (key === CRD_KEY) this.checkCrd(obj);
    const admitted = this.admit(rt, obj, opts);
    if (key === NS_KEY) {
      // As the real server does, so namespace selectors can name a namespace.
      admitted.metadata.labels = { ...(admitted.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name };
      admitted.status = { phase: 'Active' };
    }
    // The real server starts every pod Pending (a status given at create is kept: tests write it in one step).
    if (rt.kind === 'Pod' && !(admitted.status as { phase?: string } | undefined)?.phase) admitted.status = { ...((admitted.status as object | undefined) ?? {}), phase: 'Pending' };
    if (opts.dryRun) return admitted;
    const created = this.store.create(key, rt.namespaced ? route.ns : '', admitted);
    if (key === CRD_KEY) return this.register(created);
    return created;
  }

  replace(route: Route, obj: KubeObject, opts: WriteOptions): KubeObject {
    if (!obj?.metadata) throw new HttpError(400, 'BadRequest', 'metadata is required');
    if (obj.metadata.name && obj.metadata.name !== route.name) throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    const cur = this.get(route);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) throw this.conflict(route);
    return this.write(route, cur, obj, opts);
  }

  /** PATCH: json, merge, strategic (built-ins only, as in Kubernetes) or apply (server-side apply; may create). */
  patch(route: Route, body: string, contentType: string, opts: WriteOptions): { object: KubeObject; created: boolean } {
    if (contentType.startsWith('application/apply-patch+yaml')) return this.apply(route, body, opts);
    const patch = parseJson(body);
    const cur = this.get(route);
    let next: KubeObject;
    try {
      if (contentType.startsWith('application/json-patch+json')) next = jsonPatch(cur, patch as unknown as JsonPatchOp[]) as KubeObject;
      else if (contentType.startsWith('application/merge-patch+json')) next = mergePatch(cur, patch) as KubeObject;
      else if (contentType.startsWith('application/strategic-merge-patch+json') && !route.rt.custom) next = strategicMergePatch(cur, patch) as KubeObject;
      else {
        const accepted = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml', ...(route.rt.custom ? [] : ['application/strategic-merge-patch+json'])];
        throw new HttpError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
      }
    } catch (e) {
      if (e instanceof PatchError) throw new HttpError(422, 'Invalid', e.message);
      throw e;
    }
    if (!next?.metadata) throw new HttpError(422, 'Invalid', 'metadata may not be removed');
    // A patch that names a resourceVersion is a precondition (optimistic concurrency), as in Kubernetes.
    const wanted = (patch as KubeObject | undefined)?.metadata?.resourceVersion;
    if (!Array.isArray(patch) && wanted && wanted !== cur.metadata.resourceVersion) throw this.conflict(route);
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    return { object: this.write(route, cur, next, opts), created: false };
  }

  private apply(route: Route, body: string, opts: WriteOptions): { object: KubeObject; created: boolean } {
    const rt = route.rt;
    if (!opts.fieldManager) throw new HttpError(400, 'BadRequest', 'PATCH, application/apply-patch+yaml: fieldManager is required for apply requests');
    let config: KubeObject;
    try {
      config = parseYaml(body) as KubeObject;
    } catch (e) {
      throw new HttpError(400, 'BadRequest', `error decoding YAML: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!config || typeof config !== 'object' || Array.isArray(config)) throw new HttpError(400, 'BadRequest', 'an apply patch is one object');
    if (config.apiVersion !== apiVersionOf(rt) || config.kind !== rt.kind) {
      throw new HttpError(400, 'BadRequest', `the apply patch is a ${String(config.kind)} of ${String(config.apiVersion)}, the URL names ${rt.kind} of ${apiVersionOf(rt)}`);
    }
    config.metadata = { ...(config.metadata ?? {}) };
    if (config.metadata.name && config.metadata.name !== route.name) throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    config.metadata.name = route.name;
    const cur = this.store.get(resKey(rt.group, rt.plural), route.ns, route.name ?? '');
    if (!cur && route.sub) throw this.notFound(route);
    const result = serverSideApply(cur, config, {
      manager: opts.fieldManager, force: opts.force, apiVersion: apiVersionOf(rt), time: kubeNow(),
      withStatus: !rt.statusSubresource, ...(route.sub ? { subresource: route.sub } : {}),
    });
    if ('conflicts' in result) {
      const n = result.conflicts.length;
      const lines = result.conflicts.map((c) => `conflict with "${c.manager}" using ${apiVersionOf(rt)}: ${c.path}`);
      throw new HttpError(409, 'Conflict', `Apply failed with ${n} conflict${n > 1 ? 's' : ''}: ${lines.join('\n')}`, {
        name: route.name, group: rt.group, kind: rt.plural, causes: result.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}"`, field: c.path })),
      });
    }
    if (!cur) return { object: this.create(route, result.object, opts), created: true };
    result.object.metadata.resourceVersion = cur.metadata.resourceVersion;
    return { object: this.write(route, cur, result.object, opts), created: false };
  }

  /** Shared by PUT and PATCH: status subresource rules, immutable metadata, generation, finalizer completion. */
  private write(route: Route, cur: KubeObject, obj: KubeObject, opts: WriteOptions): KubeObject {
    const rt = route.rt;
    const key = resKey(rt.group, rt.plural);
    let next: KubeObject;
    if (route.sub === 'status') {
      if (!rt.statusSubresource) throw new HttpError(404, 'NotFound', `${rt.plural} has no status subresource`);
      next = { ...cur, status: obj.status };
      if (obj.status === undefined) delete next.status;
      if (obj.metadata.managedFields !== undefined) next.metadata = { ...next.metadata, managedFields: obj.metadata.managedFields };
    } else {
      next = { ...obj, metadata: { ...obj.metadata } };
      if (rt.statusSubresource) {
        if (cur.status === undefined) delete next.status;
        else next.status = cur.status;
      }
      const keep = ['uid', 'creationTimestamp', 'generation', 'namespace', 'name', 'deletionTimestamp'] as const;
      for (const k of keep) {
        if (cur.metadata[k] === undefined) delete next.metadata[k];
        else (next.metadata as Record<string, unknown>)[k] = cur.metadata[k];
      }
      // A write that leaves managedFields out keeps them, as the real server does.
      if (next.metadata.managedFields === undefined && cur.metadata.managedFields !== undefined) next.metadata.managedFields = cur.metadata.managedFields;
      if (specOf(cur) !== specOf(next)) next.metadata.generation = (cur.metadata.generation ?? 1) + 1;
    }
    next.apiVersion = apiVersionOf(rt);
    next.kind = rt.kind;
    if (rt.kind === 'Secret') stringDataToData(next);
    if (key === CRD_KEY) this.checkCrd(next);
    next = this.admit(rt, next, opts);
    if (opts.dryRun) return next;
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers?.length)) {
      const gone = this.store.remove(key, route.ns, route.name ?? '');
      if (key === CRD_KEY && gone) this.unregister(gone);
      return gone ?? next;
    }
    const stored = this.store.update(key, route.ns, next);
    if (key === CRD_KEY) return this.register(stored);
    return stored;
  }

  /**
   * DELETE: preconditions, finalizers (deletionTimestamp first), then the object and its dependents as
   * `propagationPolicy` says (Background and Foreground delete objects whose ownerReferences name it, at once;
   * Orphan removes those ownerReferences). Deleting a namespace deletes what is in it.
   */
  delete(route: Route, options: Record<string, unknown> | undefined, params: URLSearchParams): KubeObject {
    const rt = route.rt;
    const key = resKey(rt.group, rt.plural);
    const cur = this.get(route);
    const pre = options?.preconditions as { resourceVersion?: string; uid?: string } | undefined;
    if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) throw this.conflict(route);
    if (pre?.uid && pre.uid !== cur.metadata.uid) throw this.conflict(route);
    const dryRun = params.get('dryRun') === 'All' || (Array.isArray(options?.dryRun) && (options.dryRun as string[]).includes('All'));
    if (dryRun) return cur;
    const policy = String((options?.propagationPolicy ?? params.get('propagationPolicy') ?? 'Background') as string);
    if (!['Background', 'Foreground', 'Orphan'].includes(policy)) throw new HttpError(400, 'BadRequest', `propagationPolicy must be Background, Foreground or Orphan (got ${policy})`);
    if (cur.metadata.finalizers?.length) {
      if (cur.metadata.deletionTimestamp) return cur;
      cur.metadata.deletionTimestamp = kubeNow();
      return this.store.update(key, route.ns, cur);
    }
    if (key === NS_KEY) {
      for (const t of this.types.values()) {
        if (!t.namespaced) continue;
        const k = resKey(t.group, t.plural);
        for (const o of this.store.list(k, route.name)) this.store.remove(k, route.name ?? '', o.metadata.name ?? '');
      }
    }
    const gone = this.store.remove(key, route.ns, route.name ?? '') ?? cur;
    if (key === CRD_KEY) this.unregister(gone);
    this.cascade(gone, policy);
    return gone;
  }

  /** What the garbage collector does for a deleted owner, done at once. */
  private cascade(owner: KubeObject, policy: string): void {
    const uid = owner.metadata.uid;
    if (!uid) return;
    for (const t of [...this.types.values()]) {
      const k = resKey(t.group, t.plural);
      for (const o of this.store.list(k)) {
        const refs = (o.metadata.ownerReferences as { uid?: string }[] | undefined) ?? [];
        if (!refs.some((r) => r.uid === uid)) continue;
        const route: Route = { rt: t, ns: o.metadata.namespace ?? '', name: o.metadata.name ?? '' };
        if (policy === 'Orphan') {
          const rest = refs.filter((r) => r.uid !== uid);
          o.metadata.ownerReferences = rest.length ? rest : undefined;
          if (!rest.length) delete o.metadata.ownerReferences;
          this.store.update(k, route.ns, o);
        } else if (this.store.get(k, route.ns, route.name ?? '')) {
          this.delete(route, { propagationPolicy: policy }, new URLSearchParams());
        }
      }
    }
  }

  conflict(route: Route): HttpError {
    return new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${groupResource(route.rt)} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`, { name: route.name, group: route.rt.group, kind: route.rt.plural });
  }

  notFound(route: Route): HttpError {
    return new HttpError(404, 'NotFound', `${groupResource(route.rt)} "${route.name}" not found`, { name: route.name, group: route.rt.group, kind: route.rt.plural });
  }

  // ------------------------------------------------------------------------------------------------ CRDs
  private checkCrd(obj: KubeObject): void {
    const spec = obj.spec as { group?: string; names?: { plural?: string; kind?: string }; versions?: unknown[]; scope?: string } | undefined;
    if (!spec?.group || !spec.names?.plural || !spec.names.kind || !spec.versions?.length) {
      throw new HttpError(422, 'Invalid', 'CustomResourceDefinition needs spec.group, spec.names.plural, spec.names.kind and spec.versions');
    }
    if (obj.metadata.name !== `${spec.names.plural}.${spec.group}`) {
      throw new HttpError(422, 'Invalid', `metadata.name must be spec.names.plural+"."+spec.group (${spec.names.plural}.${spec.group})`);
    }
    const rt = crdResourceType(obj);
    if (!rt) return;
    try {
      checkPrinterColumns(rt);
    } catch (e) {
      throw new HttpError(422, 'Invalid', `spec.versions[].additionalPrinterColumns: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Serves (or re-serves, after an update) the CRD's resource, and marks it Established. */
  private register(crd: KubeObject): KubeObject {
    const rt = crdResourceType(crd);
    if (!rt) return crd;
    this.types.set(resKey(rt.group, rt.plural), rt);
    const established = (crd.status as { conditions?: { type: string }[] } | undefined)?.conditions?.some((c) => c.type === 'Established');
    if (established) return crd;
    const now = kubeNow();
    crd.status = {
      acceptedNames: (crd.spec as { names: unknown }).names,
      storedVersions: [rt.version],
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: now },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: now },
      ],
    };
    return this.store.update(CRD_KEY, '', crd);
  }

  private unregister(crd: KubeObject): void {
    const spec = crd.spec as { group: string; names: { plural: string } };
    const key = resKey(spec.group, spec.names.plural);
    this.store.dropResource(key);
    this.types.delete(key);
  }

  /** Custom resources: unknown fields pruned (or refused under Strict), then validated with defaults applied. */
  private admit(rt: ResourceType, obj: KubeObject, opts: WriteOptions): KubeObject {
    if (!rt.custom) return obj;
    const { pruned, unknown } = pruneUnknownFields(obj, rt.schema);
    if (unknown.length && opts.fieldValidation === 'Strict') {
      throw new HttpError(400, 'BadRequest', `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`);
    }
    if (opts.fieldValidation === 'Warn') opts.warnings.push(...unknown.map((u) => `unknown field "${u}"`));
    const admitted = pruned as KubeObject;
    if (!rt.validate) return admitted;
    // Validate everything but metadata (the CRD schema leaves it opaque); defaults are applied in place.
    const { metadata, ...rest } = admitted;
    const candidate = { ...rest, metadata: {} };
    if (!rt.validate(candidate)) {
      const causes = (rt.validate.errors ?? []).map((e) => ({ reason: 'FieldValueInvalid', field: e.instancePath.replace(/^\//, '').replace(/\//g, '.'), message: e.message ?? 'invalid' }));
      throw new HttpError(422, 'Invalid', `${rt.kind}.${rt.group} "${metadata.name ?? ''}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, { name: metadata.name, group: rt.group, kind: rt.kind, causes });
    }
    return { ...candidate, metadata } as KubeObject;
  }
}

export function parseJson(body: string): KubeObject {
  try {
    return JSON.parse(body) as KubeObject;
  } catch {
    throw new HttpError(400, 'BadRequest', 'the request body is not JSON');
  }
}

/** As the API server does: `stringData` is a write-only convenience merged into base64 `data`. */
function stringDataToData(obj: KubeObject): void {
  const sd = obj.stringData as Record<string, string> | undefined;
  if (!sd) return;
  const data = { ...((obj.data as Record<string, string> | undefined) ?? {}) };
  for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(v, 'utf8').toString('base64');
  obj.data = data;
  delete obj.stringData;
}

function specOf(o: KubeObject): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
}
