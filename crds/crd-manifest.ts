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
