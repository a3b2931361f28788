import type { KindDefinition } from './kind-definition.js';
import { openAPIV3SchemaOf, type JSONSchemaProps } from './structural-schema.js';

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Cluster' | 'Namespaced';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JSONSchemaProps };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: KindDefinition['printerColumns'];
    }[];
  };
}

/** Label on every Strait CRD; `strait join` compares it to decide whether an upgrade is needed. */
export const CRD_SCHEMA_HASH_LABEL = 'strait.io/schema-hash';

/** Pure: the CRD object for one kind. The schema hash lets `strait join` skip identical upgrades. */
export function crdManifestOf(def: KindDefinition): CustomResourceDefinition {
  const version = {
    name: def.version,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: openAPIV3SchemaOf(def) },
    subresources: { status: {} as Record<string, never> },
    additionalPrinterColumns: def.printerColumns,
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${def.group}`,
      labels: { 'app.kubernetes.io/part-of': 'strait', [CRD_SCHEMA_HASH_LABEL]: fnv1a(JSON.stringify(version)) },
    },
    spec: {
      group: def.group,
      names: {
        kind: def.kind, listKind: def.listKind, plural: def.plural, singular: def.singular,
        shortNames: def.shortNames, categories: def.categories,
      },
      scope: def.scope,
      versions: [version],
    },
  };
}

// A short stable hash (label values are ≤63 chars); not for security.
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

// @kubernetes/client-node's typed APIs serialise their model classes, whose property names differ from the JSON
// names for these keys (`_default` → `default`); unknown names are dropped silently. This renames them back.
const CLIENT_MODEL_NAMES: Record<string, string> = {
  $ref: 'ref', $schema: 'schema', default: '_default', enum: '_enum',
  'x-kubernetes-embedded-resource': 'x_kubernetes_embedded_resource',
  'x-kubernetes-int-or-string': 'x_kubernetes_int_or_string',
  'x-kubernetes-list-map-keys': 'x_kubernetes_list_map_keys',
  'x-kubernetes-list-type': 'x_kubernetes_list_type',
  'x-kubernetes-map-type': 'x_kubernetes_map_type',
  'x-kubernetes-preserve-unknown-fields': 'x_kubernetes_preserve_unknown_fields',
  'x-kubernetes-validations': 'x_kubernetes_validations',
};

function schemaToClientModel(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(schemaToClientModel);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    const name = CLIENT_MODEL_NAMES[k] ?? k;
    if (k === 'properties') out[name] = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([p, s]) => [p, schemaToClientModel(s)]));
    else if (k === 'default' || k === 'enum' || k === 'x-kubernetes-validations' || k === 'x-kubernetes-list-map-keys') out[name] = v;
    else out[name] = schemaToClientModel(v);
  }
  return out;
}

/**
 * The CRD in the property naming of client-node's `V1CustomResourceDefinition` model, for
 * `ApiextensionsV1Api.create/replaceCustomResourceDefinition` (which would otherwise drop defaults and CEL rules).
 */
export function crdAsClientModel(crd: CustomResourceDefinition): CustomResourceDefinition {
  return {
    ...crd,
    spec: {
      ...crd.spec,
      versions: crd.spec.versions.map((v) => ({
        ...v,
        schema: { openAPIV3Schema: schemaToClientModel(v.schema.openAPIV3Schema) as JSONSchemaProps },
      })),
    },
  };
}
