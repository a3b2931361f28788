import { describe, it, expect } from '@jest/globals';
import { pruneUnknownFields } from './schema-pruning.js';

const schema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        cidr: { type: 'string' },
        selector: { type: 'object', additionalProperties: { type: 'string' } },
        routes: { type: 'array', items: { type: 'object', properties: { dst: { type: 'string' } } } },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
      },
    },
    status: { type: 'object', properties: { n: { type: 'integer' } } },
  },
};

describe('pruning unknown fields against a structural schema', () => {
  it('keeps known fields, maps, preserved subtrees and embedded resources; names what it prunes', () => {
    const obj = {
      apiVersion: 'g/v1', kind: 'K', metadata: { name: 'a', anything: 1 },
      spec: {
        cidr: '10.0.0.0/8', bogus: 1, selector: { a: 'b' }, routes: [{ dst: 'x', via: 'y' }], extra: { any: { thing: 1 } },
        template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { c: 1 }, other: 2 },
      },
      status: { n: 1, m: 2 },
      top: true,
    };
    const { pruned, unknown } = pruneUnknownFields(obj, schema);
    expect(unknown.sort()).toEqual(['spec.bogus', 'spec.routes[0].via', 'spec.template.other', 'status.m', 'top']);
    expect(pruned).toEqual({
      apiVersion: 'g/v1', kind: 'K', metadata: { name: 'a', anything: 1 },
      spec: { cidr: '10.0.0.0/8', selector: { a: 'b' }, routes: [{ dst: 'x' }], extra: { any: { thing: 1 } }, template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { c: 1 } } },
      status: { n: 1 },
    });
  });

  it('a root that preserves unknown fields prunes nothing', () => {
    expect(pruneUnknownFields({ metadata: {}, a: { b: 1 } }, { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }).unknown).toEqual([]);
  });
});
