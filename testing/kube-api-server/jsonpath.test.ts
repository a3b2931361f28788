import { describe, it, expect } from '@jest/globals';
import { evaluateJsonPath, parseJsonPath } from './jsonpath.js';

const pool = {
  metadata: { name: 'p', labels: { 'app.kubernetes.io/name': 'x' } },
  spec: { cidr: '10.0.0.0/24', ports: [{ port: 80 }, { port: 443 }] },
  status: { conditions: [{ type: 'Synced', status: 'False' }, { type: 'Ready', status: 'True', observedGeneration: 2 }] },
};

describe('JSONPath for printer columns', () => {
  it.each([
    ['.spec.cidr', ['10.0.0.0/24']],
    ['{.spec.cidr}', ['10.0.0.0/24']],
    ['$.spec.cidr', ['10.0.0.0/24']],
    ['.spec.missing', []],
    ['.spec.ports[*].port', [80, 443]],
    ['.spec.ports[1].port', [443]],
    ['.spec.ports[-1].port', [443]],
    [".metadata.labels['app.kubernetes.io/name']", ['x']],
    ['.status.conditions[?(@.type=="Ready")].status', ['True']],
    [".status.conditions[?(@.type!='Ready')].type", ['Synced']],
    ['.status.conditions[?(@.observedGeneration==2)].type', ['Ready']],
    ['.status.conditions[?(@.observedGeneration)].type', ['Ready']],
  ])('%s', (path, want) => {
    expect(evaluateJsonPath(parseJsonPath(path), pool)).toEqual(want);
  });

  it.each(['.spec..cidr', '.spec[?(@.a ~ 1)]', '.spec[', 'spec'])('refuses %s (outside the subset)', (path) => {
    expect(() => parseJsonPath(path)).toThrow(/JSONPath/);
  });
});
