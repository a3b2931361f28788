import { describe, it, expect } from '@jest/globals';
import { strategicMergePatch } from './strategic-merge.js';

const pod = {
  metadata: { name: 'p', finalizers: ['a'], labels: { x: '1' } },
  spec: {
    containers: [
      { name: 'a', image: 'i:1', env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }], ports: [{ containerPort: 80 }] },
      { name: 'b', image: 'j' },
    ],
    tolerations: [{ key: 't' }],
  },
};

describe('strategic merge patch (built-ins)', () => {
  it.each<[string, unknown, unknown]>([
    ['merges a keyed list item by item', { spec: { containers: [{ name: 'b', image: 'j:2' }] } },
      { ...pod.spec, containers: [pod.spec.containers[0], { name: 'b', image: 'j:2' }] }],
    ['appends a new keyed item', { spec: { containers: [{ name: 'c', image: 'k' }] } },
      { ...pod.spec, containers: [...pod.spec.containers, { name: 'c', image: 'k' }] }],
    ['$patch: delete removes a keyed item', { spec: { containers: [{ name: 'a', $patch: 'delete' }] } },
      { ...pod.spec, containers: [pod.spec.containers[1]] }],
    ['nested keyed lists (env by name) and null deletes a field', { spec: { containers: [{ name: 'a', env: [{ name: 'Y', $patch: 'delete' }], ports: null }] } },
      { ...pod.spec, containers: [{ name: 'a', image: 'i:1', env: [{ name: 'X', value: '1' }] }, pod.spec.containers[1]] }],
    ['lists without a merge key are replaced', { spec: { tolerations: [{ key: 'u' }] } }, { ...pod.spec, tolerations: [{ key: 'u' }] }],
    ['$setElementOrder reorders', { spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }] } },
      { ...pod.spec, containers: [pod.spec.containers[1], pod.spec.containers[0]] }],
    ['$patch: replace replaces a map', { spec: { $patch: 'replace', containers: [] } }, { containers: [] }],
    ['$retainKeys keeps only the listed keys', { spec: { $retainKeys: ['containers'], containers: [] } }, { containers: pod.spec.containers }],
  ])('%s', (_name, patch, wantSpec) => {
    expect((strategicMergePatch(pod, patch) as typeof pod).spec).toEqual(wantSpec);
  });

  it('finalizers merge as a set; $deleteFromPrimitiveList removes', () => {
    expect((strategicMergePatch(pod, { metadata: { finalizers: ['a', 'b'] } }) as typeof pod).metadata.finalizers).toEqual(['a', 'b']);
    expect((strategicMergePatch(pod, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }) as typeof pod).metadata.finalizers).toEqual([]);
  });

  it('refuses unknown directives and non-object patches', () => {
    expect(() => strategicMergePatch(pod, { $patch: 'explode' })).toThrow(/directive/);
    expect(() => strategicMergePatch(pod, { spec: { $bogus: 1 } })).toThrow(/directive/);
    expect(() => strategicMergePatch(pod, [1])).toThrow(/JSON object/);
  });
});
