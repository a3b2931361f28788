import type * as k8s from '@kubernetes/client-node';
import { BrokerClient, StraitError, isStraitError } from '../../api/index.js';
import { CREDENTIALS_SECRET, STRAIT_NAMESPACE } from './join-plan.js';
import { readCredentials, writeSecret } from './join.js';
import { KubeClient } from './kube-client.js';

export interface RotateOptions {
  kubeConfig: k8s.KubeConfig;
  say?: (line: string) => void;
}

/**
 * `strait rotate-credential`, run against a member cluster: the cluster asks the broker for a new credential with
 * its current one (which stops working at once), then stores the new one in its Secret. The running member agent
 * notices its credential was refused and reads the Secret again (member-agent.ts), so nothing needs a restart.
 *
 * The one dangerous moment is between the two steps: if the Secret cannot be written after the broker rotated,
 * the cluster would hold a dead credential, so the error carries the new credential and the command to store it.
 */
export async function rotateCredential(opts: RotateOptions): Promise<{ clusterId: string }> {
  const say = opts.say ?? (() => undefined);
  const kube = new KubeClient(opts.kubeConfig);
  const creds = await readCredentials(kube);
  if (!creds) throw new StraitError('NOT_JOINED', `no Secret ${STRAIT_NAMESPACE}/${CREDENTIALS_SECRET} in ${kube.server}: this cluster has not joined (run \`strait join\`)`);
  say(`✓ credentials read from ${STRAIT_NAMESPACE}/${CREDENTIALS_SECRET} (cluster ${creds.clusterID}, broker ${creds.brokerURL})`);
  const c = new BrokerClient({ baseUrl: creds.brokerURL, token: creds.token, ...(creds.caPem ? { caPem: creds.caPem } : {}), timeoutMs: 10_000 });
  let token: string;
  try {
    // No retry after an unknown outcome: a second rotation would be refused with the first one's result unknown.
    token = (await c.rotateClusterCredential(creds.clusterID)).credentials.token;
  } catch (e) {
    if (isStraitError(e, 'UNAUTHENTICATED')) {
      throw new StraitError('UNAUTHENTICATED', `the broker refused this cluster's stored credential (rotated elsewhere, or the cluster was removed): ask the broker admin for a new one (\`strait cluster rotate-credential ${creds.clusterID}\`) or re-join with a join token`, { clusterId: creds.clusterID });
    }
    throw e;
  } finally {
    c.close();
  }
  say('✓ new credential issued by the broker; the old one no longer works');
  try {
    await writeSecret(kube, { ...creds, token });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    throw new StraitError('CREDENTIAL_NOT_STORED', `the broker issued a new credential but the Secret could not be written (${err.message}); store it by hand or this cluster stays locked out: kubectl -n ${STRAIT_NAMESPACE} patch secret ${CREDENTIALS_SECRET} -p '{"stringData":{"token":"${token}"}}'`, { clusterId: creds.clusterID });
  }
  say(`✓ new credential stored in Secret ${STRAIT_NAMESPACE}/${CREDENTIALS_SECRET}; agents pick it up on their next broker call`);
  return { clusterId: creds.clusterID };
}
