import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { nodeAgentAccess } from '../../member-agent/index.js';
import { rbacDecision, usersFor } from './rbac-users.js';
import { TestKubeApiServer } from './server.js';

describe('test API server identities (the lab\'s per-component tokens)', () => {
  const denied: string[] = [];
  const { users, tokens } = usersFor(
    [{ file: 'admin', user: 'lab-admin', rules: 'all' }, { file: 'node-agent', user: 'system:serviceaccount:strait-system:strait-node-agent', rules: nodeAgentAccess().rules }],
    (user, why) => denied.push(`${user}: ${why}`),
  );
  const server = new TestKubeApiServer({ users });
  const client = (file: string): k8s.CoreV1Api => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml(tokens.get(file)));
    return kc.makeApiClient(k8s.CoreV1Api);
  };

  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('decides as RBAC would: granted verbs pass, others name what was asked', () => {
    const rules = nodeAgentAccess().rules;
    expect(rbacDecision(rules, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&watch=true')).toBeUndefined();
    expect(rbacDecision(rules, 'POST', '/api/v1/namespaces/default/pods')).toBe('create pods in namespace default');
    expect(rbacDecision(rules, 'GET', '/version')).toBeUndefined();
    expect(rbacDecision('all', 'DELETE', '/api/v1/namespaces/x')).toBeUndefined();
  });

  it('answers 401 without a known token and 403 for what the identity may not do', async () => {
    await expect(client('admin').createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }] } } })).resolves.toBeDefined();
    await expect(client('node-agent').listPodForAllNamespaces()).resolves.toMatchObject({ items: [expect.anything()] });
    await expect(client('node-agent').deleteNamespacedPod({ namespace: 'default', name: 'p' })).rejects.toMatchObject({ code: 403 });
    const nobody = new k8s.KubeConfig();
    nobody.loadFromString(server.kubeconfigYaml('not-a-token'));
    await expect(nobody.makeApiClient(k8s.CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
    // No credentials at all (kubectl over plain http): without an anonymous user, 401 too.
    expect((await fetch(`${server.url}/api/v1/namespaces`)).status).toBe(401);
    expect(denied).toEqual(['system:serviceaccount:strait-system:strait-node-agent: delete pods p in namespace default']);
    expect(server.requestsByUser.get('system:serviceaccount:strait-system:strait-node-agent')).toEqual({ allowed: 1, denied: 1 });
    expect(server.get('', 'pods', 'p', 'default')).toBeDefined();
  });
});
