import { describe, it, expect } from '@jest/globals';
import { serverSideApply, type ApplyResult } from './server-side-apply.js';
import type { KubeObject } from './store.js';

const req = (manager: string, force = false) => ({ manager, force, apiVersion: 'x/v1', time: 't', withStatus: false });
const config = (spec: Record<string, unknown>, labels?: Record<string, string>): KubeObject => ({ apiVersion: 'x/v1', kind: 'K', metadata: { name: 'a', ...(labels ? { labels } : {}) }, spec });
const object = (r: ApplyResult): KubeObject => {
  if ('conflicts' in r) throw new Error(`conflicts: ${JSON.stringify(r.conflicts)}`);
  return r.object;
};

describe('server-side apply (managedFields per applier)', () => {
  it('creates, then removes what the same applier left out', () => {
    const first = object(serverSideApply(undefined, config({ a: 1, b: { c: 2, d: 3 } }, { l: 'x' }), req('m')));
    expect(first.spec).toEqual({ a: 1, b: { c: 2, d: 3 } });
    expect(first.metadata.managedFields).toEqual([expect.objectContaining({ manager: 'm', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:l': {} } }, 'f:spec': { 'f:a': {}, 'f:b': { 'f:c': {}, 'f:d': {} } } } })]);
    const second = object(serverSideApply(first, config({ a: 1, b: { c: 2 } }), req('m')));
    expect(second.spec).toEqual({ a: 1, b: { c: 2 } });
    expect(second.metadata.labels).toEqual({});
  });

  it('keeps fields other writers set, and fields another applier still claims', () => {
    const first = object(serverSideApply({ metadata: { name: 'a' }, spec: { byHand: true } }, config({ a: 1, shared: 's' }), req('m')));
    const withOther = object(serverSideApply(first, config({ shared: 's' }), req('o')));
    const dropped = object(serverSideApply(withOther, config({ a: 1 }), req('m')));
    expect(dropped.spec).toEqual({ byHand: true, a: 1, shared: 's' });
  });

  it('a different value for a field another applier owns is a conflict; force moves the field', () => {
    const first = object(serverSideApply(undefined, config({ a: 1, b: 2 }), req('m')));
    expect(serverSideApply(first, config({ a: 5 }), req('o'))).toEqual({ conflicts: [{ manager: 'm', path: '.spec.a' }] });
    // The same value is shared ownership, not a conflict.
    expect('object' in serverSideApply(first, config({ a: 1 }), req('o'))).toBe(true);
    const forced = object(serverSideApply(first, config({ a: 5 }), req('o', true)));
    expect(forced.spec).toEqual({ a: 5, b: 2 });
    const m = (forced.metadata.managedFields as { manager: string; fieldsV1: unknown }[]).find((e) => e.manager === 'm');
    expect(m?.fieldsV1).toEqual({ 'f:spec': { 'f:b': {} } });
  });

  it('lists are atomic: an applied list replaces the stored one', () => {
    const first = object(serverSideApply(undefined, config({ l: [1, 2, 3] }), req('m')));
    expect(object(serverSideApply(first, config({ l: [4] }), req('m'))).spec).toEqual({ l: [4] });
  });
});
