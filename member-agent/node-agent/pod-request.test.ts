import { describe, it, expect } from '@jest/globals';
import { podAllocationRequest, type PodView } from './pod-request.js';

const view = (ns: Record<string, string> = {}): PodView => ({
  pod: { namespace: 'shop', name: 'web-0', uid: 'u', labels: { app: 'web' }, annotations: { 'ipam.strait.io/ippool': '{"ipv4":["a"]}' } },
  namespace: { labels: { team: 'frontend' }, annotations: ns },
  node: { name: 'n1', labels: { zone: 'a' } },
});

describe('podAllocationRequest', () => {
  it('hands every source to the engine: pod annotations and labels, namespace defaults and labels, node labels, netconf', () => {
    expect(podAllocationRequest(view({ 'ipam.strait.io/default-ipv4-ippool': '["ns4"]', 'ipam.strait.io/default-ipv6-ippool': '["ns6"]' }), 'n1', { ipv4: ['nc'] })).toEqual({
      node: { name: 'n1', labels: { zone: 'a' } },
      podAnnotations: { 'ipam.strait.io/ippool': '{"ipv4":["a"]}' },
      podLabels: { app: 'web' },
      namespaceLabels: { team: 'frontend' },
      namespaceDefaults: { ipv4: ['ns4'], ipv6: ['ns6'] },
      netconfPools: { ipv4: ['nc'] },
    });
  });

  it('without a pod (no K8S_POD_* args, or no kubeconfig): node name and netconf only', () => {
    expect(podAllocationRequest(undefined, 'n1', { ipv4: ['nc'] })).toEqual({ node: { name: 'n1' }, netconfPools: { ipv4: ['nc'] } });
    expect(podAllocationRequest(undefined, 'n1', {})).toEqual({ node: { name: 'n1' } });
  });

  it('a malformed namespace default annotation is INVALID_POOL_ANNOTATION', () => {
    expect(() => podAllocationRequest(view({ 'ipam.strait.io/default-ipv4-ippool': 'ns4' }), 'n1', undefined)).toThrow(expect.objectContaining({ code: 'INVALID_POOL_ANNOTATION' }));
  });
});
