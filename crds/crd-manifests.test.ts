import { describe, it, expect } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { ALL_KINDS, crdManifestOf, setCondition, sameConditions, type KindDefinition } from './index.js';
import { kindByName } from './kind-registry.js';

const here = dirname(fileURLToPath(import.meta.url));
const examples = readdirSync(join(here, 'examples')).filter((f) => f.endsWith('.yaml'));

function validatorOf(def: KindDefinition) {
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, validateFormats: false });
  return ajv.compile(crdManifestOf(def).spec.versions[0]!.schema.openAPIV3Schema);
}

describe('CRD manifests', () => {
  it('match the committed files in crds/manifests (run `npm run gen:crds` after changing a schema)', () => {
    for (const def of ALL_KINDS) {
      const crd = crdManifestOf(def);
      const file = parse(readFileSync(join(here, 'manifests', `${crd.metadata.name}.yaml`), 'utf8')) as unknown;
      expect(file).toEqual(crd);
    }
  });

  it('are structural: every schema node has a type and no unions', () => {
    const walk = (n: unknown, path: string): void => {
      if (n === null || typeof n !== 'object') return;
      const o = n as Record<string, unknown>;
      expect({ path, anyOf: o.anyOf, oneOf: o.oneOf }).toEqual({ path, anyOf: undefined, oneOf: undefined });
      expect([path, typeof o.type]).toEqual([path, 'string']);
      for (const [k, v] of Object.entries((o.properties ?? {}) as Record<string, unknown>)) walk(v, `${path}.${k}`);
      if (o.items) walk(o.items, `${path}[]`);
      if (typeof o.additionalProperties === 'object') walk(o.additionalProperties, `${path}{}`);
    };
    for (const def of ALL_KINDS) walk(crdManifestOf(def).spec.versions[0]!.schema.openAPIV3Schema, def.kind);
  });

  it('refuse unknown spec fields: the zod spec names the field, and no spec schema preserves unknown fields (so the API server\'s strict field validation, kubectl\'s default, refuses them instead of pruning silently)', () => {
    const preserved = (n: unknown): boolean => n !== null && typeof n === 'object' && ((n as Record<string, unknown>)['x-kubernetes-preserve-unknown-fields'] === true || Object.values(n as Record<string, unknown>).some(preserved));
    for (const def of ALL_KINDS) {
      const spec = (crdManifestOf(def).spec.versions[0]!.schema.openAPIV3Schema.properties as Record<string, unknown>).spec;
      expect([def.kind, preserved(spec)]).toEqual([def.kind, false]);
    }
    for (const kind of ['EgressGateway', 'EgressPolicy', 'EgressClusterPolicy', 'IPPool']) {
      const r = kindByName(kind)!.spec.safeParse({ protocol: 'tcp' });
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toContain('protocol');
    }
  });

  it('have a status subresource, printer columns and conditions in status', () => {
    for (const def of ALL_KINDS) {
      const v = crdManifestOf(def).spec.versions[0]!;
      expect(v.subresources.status).toEqual({});
      expect(v.additionalPrinterColumns.length).toBeGreaterThan(0);
      const status = (v.schema.openAPIV3Schema.properties as Record<string, { properties: Record<string, unknown> }>).status!;
      expect(status.properties.conditions).toMatchObject({ type: 'array', 'x-kubernetes-list-type': 'map' });
    }
  });

  it('cover the three groups with the kinds and scopes the issue names', () => {
    expect(ALL_KINDS.map((k) => `${k.group}/${k.kind}:${k.scope}`)).toEqual([
      'ipam.strait.io/Subnet:Cluster', 'ipam.strait.io/IPPool:Cluster', 'ipam.strait.io/ReservedIP:Cluster',
      'egress.strait.io/EgressGateway:Cluster', 'egress.strait.io/EgressPolicy:Namespaced',
      'egress.strait.io/EgressClusterPolicy:Cluster',
      'multicluster.strait.io/ClusterSet:Cluster', 'multicluster.strait.io/Gateway:Cluster',
    ]);
  });
});

describe('crds/examples', () => {
  it('has an example for every kind', () => {
    const kinds = examples.map((f) => (parse(readFileSync(join(here, 'examples', f), 'utf8')) as { kind: string }).kind);
    expect(kinds.sort()).toEqual(ALL_KINDS.map((k) => k.kind).sort());
  });

  it.each(examples)('%s validates against the generated CRD schema and the zod source', (f) => {
    const obj = parse(readFileSync(join(here, 'examples', f), 'utf8')) as { apiVersion: string; kind: string; spec: unknown };
    const def = kindByName(obj.kind)!;
    expect(obj.apiVersion).toBe(`${def.group}/${def.version}`);
    const validate = validatorOf(def);
    expect([validate(obj), validate.errors ?? null]).toEqual([true, null]);
    expect(def.spec.safeParse(obj.spec).success).toBe(true);
  });

  it('defaults are applied from the schema (as an API server would)', () => {
    const obj = { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 's' }, spec: { cidr: '10.0.0.0/16' } };
    expect(validatorOf(kindByName('Subnet')!)(obj)).toBe(true);
    expect(obj.spec).toEqual({ cidr: '10.0.0.0/16' });
    const pool = { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/24' } };
    expect(validatorOf(kindByName('IPPool')!)(pool)).toBe(true);
    expect(pool.spec).toEqual({ cidr: '10.0.0.0/24', purpose: 'pods', default: false, disable: false });
  });

  it.each([
    ['Subnet', { cidr: '10.0.0.0/33' }],
    ['Subnet', { cidr: 'ten/8' }],
    ['Subnet', { cidr: '10.0.0.0/16', vlan: 5000 }],
    ['IPPool', { cidr: '10.0.0.0/24', blockSize: 200 }],
    ['IPPool', { cidr: '10.0.0.0/24', ips: ['10.0.0.1-banana'] }],
    ['Gateway', { clusterID: 'West!', name: 'n', endpoints: ['1.2.3.4'], tunnelTypes: ['vxlan'] }],
    ['Gateway', { clusterID: 'west', name: 'n', endpoints: [], tunnelTypes: ['vxlan'] }],
    ['EgressPolicy', { appliedTo: {}, egressIP: { allocatorPolicy: 'random' } }],
    // Accepted and ignored before: refused now, by the CRD enum as by the broker.
    ['EgressPolicy', { appliedTo: {}, egressIP: { allocatorPolicy: 'roundRobin' } }],
    ['EgressClusterPolicy', { appliedTo: {}, egressIP: { allocatorPolicy: 'roundRobin' } }],
  ])('rejects a bad %s spec %j', (kind, spec) => {
    const def = kindByName(kind)!;
    expect(validatorOf(def)({ apiVersion: `${def.group}/${def.version}`, kind, metadata: { name: 'x' }, spec })).toBe(false);
    expect(def.spec.safeParse(spec).success).toBe(false);
  });
});

describe('setCondition', () => {
  const t0 = '2026-01-01T00:00:00Z';
  const t1 = '2026-01-01T00:01:00Z';
  it.each([
    ['adds a new condition', undefined, 'True', t1],
    ['keeps the transition time when the status is unchanged', [{ type: 'Ready', status: 'True' as const, reason: 'A', message: '', lastTransitionTime: t0 }], 'True', t0],
    ['moves the transition time when the status flips', [{ type: 'Ready', status: 'False' as const, reason: 'A', message: '', lastTransitionTime: t0 }], 'True', t1],
  ])('%s', (_name, prev, status, want) => {
    const out = setCondition(prev, { type: 'Ready', status: status as 'True', reason: 'B' }, t1);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'Ready', status, reason: 'B', lastTransitionTime: want });
  });
  it('sameConditions ignores transition times', () => {
    const a = setCondition([], { type: 'Ready', status: 'True', reason: 'R' }, t0);
    const b = setCondition([], { type: 'Ready', status: 'True', reason: 'R' }, t1);
    expect(sameConditions(a, b)).toBe(true);
    expect(sameConditions(a, setCondition(a, { type: 'Ready', status: 'False', reason: 'R' }, t1))).toBe(false);
  });
});
