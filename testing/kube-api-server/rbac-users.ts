import { randomBytes } from 'node:crypto';
import { describeRequest, grantFor, requestAttributes, type KubeAccess } from '../../member-agent/index.js';
import type { TestKubeUser } from './server.js';

/** One identity of a lab cluster's test API server: a component's ServiceAccount, a lab node, the lab's admin. */
export interface LabKubeIdentity {
  /** The kubeconfig's file name without `.kubeconfig`. */
  file: string;
  /** The user name the server knows the token as (e.g. `system:serviceaccount:strait-system:strait-node-agent`). */
  user: string;
  /** What it may do (RBAC rules, as the install manifests grant them), or everything (an admin). */
  rules: readonly KubeAccess[] | 'all';
  /** Also who a request without credentials is (kubectl sends no token over plain http). At most one. */
  anonymous?: boolean;
}

/**
 * The 403 reason ("get pods in namespace x") for a request the rules do not grant, or undefined when one does.
 * Non-resource paths (discovery, /version, OpenAPI) are open to every authenticated user, as in kube-apiserver.
 */
export function rbacDecision(rules: readonly KubeAccess[] | 'all', method: string, url: string): string | undefined {
  if (rules === 'all') return undefined;
  const a = requestAttributes(method, url);
  if (!a) return undefined;
  return grantFor(rules, a) ? undefined : describeRequest(a);
}

/** A fresh random bearer token per identity, and the server's users keyed by token. */
export function usersFor(identities: readonly LabKubeIdentity[], onDeny?: (user: string, why: string) => void): { users: Record<string, TestKubeUser>; tokens: Map<string, string>; anonymous?: TestKubeUser } {
  const users: Record<string, TestKubeUser> = {};
  let anonymous: TestKubeUser | undefined;
  const tokens = new Map<string, string>();
  for (const id of identities) {
    const token = randomBytes(24).toString('hex');
    tokens.set(id.file, token);
    users[token] = {
      name: id.user,
      authorize: (method, url) => {
        const why = rbacDecision(id.rules, method, url);
        if (why !== undefined) onDeny?.(id.user, why);
        return why;
      },
    };
    if (id.anonymous) anonymous = users[token];
  }
  return { users, tokens, ...(anonymous ? { anonymous } : {}) };
}
