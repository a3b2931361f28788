/**
 * OpenAPI documents of the served resources: v3 (`/openapi/v3` index and one document per group-version, which
 * kubectl 1.27+ reads to decide that the server validates fields itself, and `kubectl explain` reads) and a v2
 * JSON document (`/openapi/v2`, for clients that ask for JSON; kubectl's protobuf request gets 406 and kubectl
 * 1.32 never needs it once v3 answers). Schemas are the CRDs' openAPIV3Schema and the built-ins' minimal ones.
 *
 * PATCH operations name `x-kubernetes-group-version-kind` and the `fieldValidation` parameter, which is what
 * kubectl's query-parameter verifier looks for. Built-ins do not list `application/strategic-merge-patch+json`:
 * kubectl then computes strategic patches from its compiled-in types instead of from these minimal schemas (which
 * carry no patch merge keys); the server still accepts strategic merge patches for built-ins.
 */
import { createHash } from 'node:crypto';
import { apiVersionOf, type JsonSchema, type ResourceType } from './resource-types.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });

/** The schema name the real API server uses: `io.k8s.api.core.v1.Pod`, `io.strait.ipam.v1alpha1.IPPool`. */
export function schemaName(rt: ResourceType, kind = rt.kind): string {
  if (rt.custom) return `${rt.group.split('.').reverse().join('.')}.${rt.version}.${kind}`;
  if (rt.group === 'apiextensions.k8s.io') return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${rt.version}.${kind}`;
  const short = rt.group === '' ? 'core' : (rt.group.split('.')[0] ?? rt.group);
  return `io.k8s.api.${short}.${rt.version}.${kind}`;
}

const str = { type: 'string' };
const strMap = { type: 'object', additionalProperties: { type: 'string' } };
const time = { type: 'string', format: 'date-time' };

const META_SCHEMAS: Record<string, JsonSchema> = {
  [`${META}.ObjectMeta`]: {
    type: 'object', description: 'Standard object metadata.',
    properties: {
      name: str, generateName: str, namespace: str, uid: str, resourceVersion: str, generation: { type: 'integer', format: 'int64' },
      creationTimestamp: time, deletionTimestamp: time, deletionGracePeriodSeconds: { type: 'integer', format: 'int64' },
      labels: strMap, annotations: strMap, finalizers: { type: 'array', items: str, 'x-kubernetes-list-type': 'set' },
      ownerReferences: { type: 'array', items: ref(`${META}.OwnerReference`), 'x-kubernetes-patch-merge-key': 'uid', 'x-kubernetes-patch-strategy': 'merge' },
      managedFields: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
    },
  },
  [`${META}.OwnerReference`]: {
    type: 'object', required: ['apiVersion', 'kind', 'name', 'uid'],
    properties: { apiVersion: str, kind: str, name: str, uid: str, controller: { type: 'boolean' }, blockOwnerDeletion: { type: 'boolean' } },
    'x-kubernetes-map-type': 'atomic',
  },
  [`${META}.ListMeta`]: { type: 'object', properties: { resourceVersion: str, continue: str, remainingItemCount: { type: 'integer', format: 'int64' } } },
  [`${META}.Status`]: {
    type: 'object',
    properties: { apiVersion: str, kind: str, status: str, message: str, reason: str, code: { type: 'integer', format: 'int32' }, details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
    'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
  },
  [`${META}.DeleteOptions`]: {
    type: 'object',
    properties: {
      apiVersion: str, kind: str, propagationPolicy: str, gracePeriodSeconds: { type: 'integer', format: 'int64' },
      preconditions: { type: 'object', properties: { resourceVersion: str, uid: str } }, dryRun: { type: 'array', items: str },
    },
  },
  [`${META}.Patch`]: { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' },
  [`${META}.WatchEvent`]: { type: 'object', required: ['type', 'object'], properties: { type: str, object: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
};

const q = (name: string, type = 'string', description = ''): JsonSchema => ({ name, in: 'query', description, schema: { type } });
const WRITE_PARAMS = [q('dryRun'), q('fieldManager'), q('fieldValidation', 'string', 'Ignore, Warn or Strict: how unknown or duplicate fields are treated.')];
const LIST_PARAMS = [q('labelSelector'), q('fieldSelector'), q('resourceVersion'), q('resourceVersionMatch'), q('limit', 'integer'), q('continue'), q('watch', 'boolean'), q('allowWatchBookmarks', 'boolean'), q('timeoutSeconds', 'integer')];
const PATH_PARAM = (name: string): JsonSchema => ({ name, in: 'path', required: true, schema: { type: 'string' } });

function objectSchema(rt: ResourceType): JsonSchema {
  const s = structuredClone(rt.schema);
  const props = { ...((s.properties as Record<string, unknown> | undefined) ?? {}) };
  props.apiVersion = { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' };
  props.kind = { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' };
  props.metadata = { allOf: [ref(`${META}.ObjectMeta`)], description: 'Standard object metadata.', default: {} };
  return { ...s, type: 'object', properties: props, 'x-kubernetes-group-version-kind': [{ group: rt.group, version: rt.version, kind: rt.kind }] };
}

function listSchema(rt: ResourceType): JsonSchema {
  return {
    type: 'object', required: ['items'], description: `${rt.kind}List is a list of ${rt.kind}.`,
    properties: { apiVersion: str, kind: str, items: { type: 'array', items: ref(schemaName(rt)) }, metadata: { allOf: [ref(`${META}.ListMeta`)], default: {} } },
    'x-kubernetes-group-version-kind': [{ group: rt.group, version: rt.version, kind: `${rt.kind}List` }],
  };
}

function json(schema: JsonSchema): JsonSchema {
  return { content: { 'application/json': { schema }, 'application/yaml': { schema } } };
}

function operation(rt: ResourceType, action: string, id: string, extra: JsonSchema, response: JsonSchema): JsonSchema {
  return {
    operationId: id, tags: [apiVersionOf(rt)], responses: { '200': { description: 'OK', ...json(response) }, '401': { description: 'Unauthorized' } },
    'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': { group: rt.group, version: rt.version, kind: rt.kind }, ...extra,
  };
}

function pathsOf(rt: ResourceType): Record<string, JsonSchema> {
  const base = rt.group ? `/apis/${rt.group}/${rt.version}` : '/api/v1';
  const scoped = rt.namespaced ? `${base}/namespaces/{namespace}/${rt.plural}` : `${base}/${rt.plural}`;
  const nsParam = rt.namespaced ? [PATH_PARAM('namespace')] : [];
  const obj = ref(schemaName(rt));
  const id = `${rt.kind}${rt.namespaced ? 'Namespaced' : ''}`;
  const patchBody = {
    required: true,
    content: Object.fromEntries(
      ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']
        .map((t) => [t, { schema: ref(`${META}.Patch`) }]),
    ),
  };
  const item = (sub: string, status: boolean): JsonSchema => ({
    parameters: [...nsParam, PATH_PARAM('name')],
    get: operation(rt, 'get', `read${id}${sub}`, {}, obj),
    put: operation(rt, 'put', `replace${id}${sub}`, { parameters: WRITE_PARAMS, requestBody: { required: true, ...json(obj) } }, obj),
    patch: operation(rt, 'patch', `patch${id}${sub}`, { parameters: [...WRITE_PARAMS, q('force', 'boolean')], requestBody: patchBody }, obj),
    ...(status ? {} : { delete: operation(rt, 'delete', `delete${id}`, { parameters: [q('propagationPolicy'), q('gracePeriodSeconds', 'integer')], requestBody: json(ref(`${META}.DeleteOptions`)) }, ref(`${META}.Status`)) }),
  });
  const paths: Record<string, JsonSchema> = {
    [scoped]: {
      parameters: nsParam,
      get: operation(rt, 'list', `list${id}`, { parameters: LIST_PARAMS }, ref(schemaName(rt, `${rt.kind}List`))),
      post: operation(rt, 'post', `create${id}`, { parameters: WRITE_PARAMS, requestBody: { required: true, ...json(obj) } }, obj),
      delete: operation(rt, 'deletecollection', `deletecollection${id}`, { parameters: LIST_PARAMS }, ref(`${META}.Status`)),
    },
    [`${scoped}/{name}`]: item('', false),
  };
  if (rt.statusSubresource) paths[`${scoped}/{name}/status`] = item('Status', true);
  if (rt.namespaced) {
    paths[`${base}/${rt.plural}`] = { get: operation(rt, 'list', `list${rt.kind}ForAllNamespaces`, { parameters: LIST_PARAMS }, ref(schemaName(rt, `${rt.kind}List`))) };
  }
  return paths;
}

/** `api/v1` or `apis/{group}/{version}`: the key of a group-version in the v3 index. */
export function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

export function openApiV3Document(types: ResourceType[]): JsonSchema {
  const schemas: Record<string, JsonSchema> = { ...META_SCHEMAS };
  let paths: Record<string, JsonSchema> = {};
  for (const rt of types) {
    schemas[schemaName(rt)] = objectSchema(rt);
    schemas[schemaName(rt, `${rt.kind}List`)] = listSchema(rt);
    paths = { ...paths, ...pathsOf(rt) };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas } };
}

export function hashOf(doc: unknown): string {
  return createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
}

/** The per group-version documents, keyed as in the index (`apis/ipam.strait.io/v1alpha1`). */
export function openApiV3Documents(types: ResourceType[]): Map<string, JsonSchema> {
  const byGv = new Map<string, ResourceType[]>();
  for (const t of types) byGv.set(gvPath(t.group, t.version), [...(byGv.get(gvPath(t.group, t.version)) ?? []), t]);
  return new Map([...byGv.entries()].map(([gv, rts]) => [gv, openApiV3Document(rts)]));
}

export function openApiV3Index(docs: Map<string, JsonSchema>): unknown {
  return { paths: Object.fromEntries([...docs.entries()].map(([gv, doc]) => [gv, { serverRelativeURL: `/openapi/v3/${gv}?hash=${hashOf(doc)}` }])) };
}

/** A swagger 2.0 rendering of the same schemas (paths left out: v2 clients read definitions). */
export function openApiV2Document(types: ResourceType[]): unknown {
  const v3 = openApiV3Document(types);
  const text = JSON.stringify((v3.components as { schemas: unknown }).schemas).replaceAll('#/components/schemas/', '#/definitions/');
  return { swagger: '2.0', info: v3.info, paths: {}, definitions: JSON.parse(text) as unknown };
}
