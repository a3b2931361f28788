import { z } from 'zod';
import type { KindDefinition } from './kind-definition.js';

/** An OpenAPI v3 schema node as the Kubernetes API server accepts it (structural form). */
export type JSONSchemaProps = { [key: string]: unknown };

/**
 * zod emits JSON Schema that a Kubernetes API server rejects as non-structural or noisy: `$schema`, integer bounds
 * of ±2^53, `additionalProperties: false` next to `properties`, and the long date-time regex beside `format`.
 * This rewrites it into the structural form (every node typed, no forbidden keywords).
 */
export function toStructural(node: unknown): JSONSchemaProps {
  if (Array.isArray(node)) return node.map(toStructural) as unknown as JSONSchemaProps;
  if (node === null || typeof node !== 'object') return node as JSONSchemaProps;
  const out: JSONSchemaProps = {};
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === '$schema' || k === 'id' || k === '$id') continue;
    if ((k === 'maximum' || k === 'minimum') && typeof v === 'number' && Math.abs(v) >= Number.MAX_SAFE_INTEGER) continue;
    if (k === 'additionalProperties' && v === false) continue;
    if (k === 'properties' || k === 'default' || k === 'x-kubernetes-validations' || k === 'enum' || k === 'required' || k === 'x-kubernetes-list-map-keys') {
      out[k] = k === 'properties' ? mapValues(v as Record<string, unknown>) : v;
      continue;
    }
    out[k] = toStructural(v);
  }
  if (out.format === 'date-time') delete out.pattern;
  if (out.anyOf !== undefined || out.oneOf !== undefined || out.allOf !== undefined) {
    throw new Error('union types are not structural; model them as optional fields instead');
  }
  if (out.type === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) {
    throw new Error(`schema node without a type: ${JSON.stringify(node).slice(0, 200)}`);
  }
  return out;
}

function mapValues(props: Record<string, unknown>): Record<string, JSONSchemaProps> {
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toStructural(v)]));
}

export function jsonSchemaOf(schema: z.ZodType): JSONSchemaProps {
  return toStructural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }));
}

/** The whole object's schema (apiVersion, kind, metadata, spec, status) as it goes into the CRD version. */
export function openAPIV3SchemaOf(def: KindDefinition): JSONSchemaProps {
  const spec = jsonSchemaOf(def.spec);
  if (def.specValidations?.length) spec['x-kubernetes-validations'] = [...(spec['x-kubernetes-validations'] as [] ?? []), ...def.specValidations];
  spec.description ??= `Desired state of the ${def.kind}.`;
  const status = jsonSchemaOf(def.status);
  status.description ??= `Observed state of the ${def.kind}, written by Strait.`;
  return {
    type: 'object',
    description: def.description,
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec,
      status,
    },
  };
}
