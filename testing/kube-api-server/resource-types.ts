import { Ajv, type ValidateFunction } from 'ajv';
import { HttpError } from './http-answers.js';
import { builtinSchema } from './builtin-schemas.js';
import type { KubeObject } from './store.js';

/** A CRD's `additionalPrinterColumns` entry (also used for the built-ins' default columns). */
export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

export type JsonSchema = Record<string, unknown>;

/** One served resource: what discovery, OpenAPI, tables and the REST verbs need to know about it. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  statusSubresource: boolean;
  shortNames: string[];
  categories: string[];
  /** True for CustomResourceDefinition-served resources (no strategic merge patch, schema-pruned). */
  custom: boolean;
  /** The served schema (the CRD's openAPIV3Schema, or a minimal one for a built-in kind). */
  schema: JsonSchema;
  /** Custom resources only: their `additionalPrinterColumns`. */
  printerColumns?: PrinterColumn[];
  /** Custom resources only: schema validator (applies defaults in place). */
  validate?: ValidateFunction;
}

export const resKey = (group: string, plural: string): string => `${group}/${plural}`;
export const CRD_KEY = resKey('apiextensions.k8s.io', 'customresourcedefinitions');
export const NS_KEY = resKey('', 'namespaces');

type Builtin = [group: string, plural: string, kind: string, namespaced: boolean, statusSubresource: boolean, shortNames: string[], categories?: string[]];

/** The built-in kinds the lab, the agents and the install manifests use (all served as v1). */
const BUILTINS: Builtin[] = [
  ['', 'namespaces', 'Namespace', false, true, ['ns']],
  ['', 'nodes', 'Node', false, true, ['no']],
  ['', 'pods', 'Pod', true, true, ['po'], ['all']],
  ['', 'secrets', 'Secret', true, false, []],
  ['', 'configmaps', 'ConfigMap', true, false, ['cm']],
  ['', 'services', 'Service', true, true, ['svc'], ['all']],
  ['', 'endpoints', 'Endpoints', true, false, ['ep']],
  ['', 'events', 'Event', true, false, ['ev']],
  ['', 'serviceaccounts', 'ServiceAccount', true, false, ['sa']],
  ['apps', 'deployments', 'Deployment', true, true, ['deploy'], ['all']],
  ['apps', 'daemonsets', 'DaemonSet', true, true, ['ds'], ['all']],
  ['apps', 'statefulsets', 'StatefulSet', true, true, ['sts'], ['all']],
  ['apps', 'replicasets', 'ReplicaSet', true, true, ['rs'], ['all']],
  ['coordination.k8s.io', 'leases', 'Lease', true, false, []],
  ['rbac.authorization.k8s.io', 'roles', 'Role', true, false, []],
  ['rbac.authorization.k8s.io', 'rolebindings', 'RoleBinding', true, false, []],
  ['rbac.authorization.k8s.io', 'clusterroles', 'ClusterRole', false, false, []],
  ['rbac.authorization.k8s.io', 'clusterrolebindings', 'ClusterRoleBinding', false, false, []],
  ['apiextensions.k8s.io', 'customresourcedefinitions', 'CustomResourceDefinition', false, true, ['crd', 'crds'], ['api-extensions']],
];

export function builtinTypes(): ResourceType[] {
  return BUILTINS.map(([group, plural, kind, namespaced, statusSubresource, shortNames, categories = []]) => ({
    group, version: 'v1', plural, singular: kind.toLowerCase(), kind, namespaced, statusSubresource, shortNames, categories,
    custom: false, schema: builtinSchema(kind),
  }));
}

interface CrdSpec {
  group: string;
  scope: string;
  names: { plural: string; kind: string; singular?: string; shortNames?: string[]; categories?: string[] };
  versions: {
    name: string; served?: boolean; storage?: boolean; schema?: { openAPIV3Schema?: JsonSchema };
    subresources?: { status?: object }; additionalPrinterColumns?: PrinterColumn[];
  }[];
}

/** The resource a CRD serves (its storage version; the test server serves one version per CRD). */
export function crdResourceType(crd: KubeObject): ResourceType | undefined {
  const spec = crd.spec as CrdSpec;
  const version = spec.versions.find((v) => v.storage) ?? spec.versions[0];
  if (!version) return undefined;
  const schema = version.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  let validate: ValidateFunction | undefined;
  if (version.schema?.openAPIV3Schema) {
    try {
      validate = new Ajv({ strict: false, allErrors: true, useDefaults: true, validateFormats: false }).compile(version.schema.openAPIV3Schema);
    } catch (e) {
      throw new HttpError(422, 'Invalid', `spec.versions[].schema.openAPIV3Schema: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return {
    group: spec.group, version: version.name, plural: spec.names.plural, singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
    kind: spec.names.kind, namespaced: spec.scope === 'Namespaced', statusSubresource: version.subresources?.status !== undefined,
    shortNames: spec.names.shortNames ?? [], categories: spec.names.categories ?? [], custom: true, schema,
    ...(version.additionalPrinterColumns ? { printerColumns: version.additionalPrinterColumns } : {}),
    ...(validate ? { validate } : {}),
  };
}

export function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** `ippools.ipam.strait.io`, or `pods` for the core group, as the API server names a resource in messages. */
export function groupResource(rt: ResourceType): string {
  return rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
}
