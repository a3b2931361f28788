import type * as k8s from '@kubernetes/client-node';
import { BrokerClient, StraitError, isStraitError } from '../../api/index.js';
import { ClusterSetKind, MULTICLUSTER_GROUP, MULTICLUSTER_VERSION, setCondition, type ClusterSetSpec } from '../../crds/index.js';
import { pinBrokerCa } from './ca-pinning.js';
import { installCrds } from './crd-installer.js';
import { CLUSTERSET_NAME, CREDENTIALS_SECRET, STRAIT_NAMESPACE, podCidrsFromNodes, validateJoinInput, type JoinInput } from './join-plan.js';
import { KubeClient, refOf } from './kube-client.js';

export interface JoinOptions extends Omit<JoinInput, 'podCidrs' | 'serviceCidrs'> {
  kubeConfig: k8s.KubeConfig;
  podCidrs?: string[];
  serviceCidrs?: string[];
  /** One line per step, as the CLI prints it. */
  say?: (line: string) => void;
}

export interface JoinResult {
  clusterId: string;
  podCidrs: string[];
  serviceCidrs: string[];
  /** False when the cluster was already joined with the same id and broker (a re-run). */
  registered: boolean;
}

/** Credentials as stored in the strait-system Secret (keys of `data`). */
export interface StoredCredentials {
  brokerURL: string;
  clusterID: string;
  token: string;
  caHash: string;
  caPem: string;
}

export async function readCredentials(kube: KubeClient): Promise<StoredCredentials | undefined> {
  const s = await kube.readSecret(STRAIT_NAMESPACE, CREDENTIALS_SECRET);
  if (!s?.data) return undefined;
  const get = (k: string): string => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8');
  return { brokerURL: get('brokerURL'), clusterID: get('clusterID'), token: get('token'), caHash: get('caHash'), caPem: get('caPem') };
}

/**
 * `strait join`: everything that can be checked is checked before the broker registration, which is the one step
 * with effects outside this cluster; if a Kubernetes write fails after it, the registration is undone. Re-running
 * with the same id and broker is safe (nothing is registered twice, identical CRDs are not rewritten).
 */
export async function joinCluster(opts: JoinOptions): Promise<JoinResult> {
  const say = opts.say ?? (() => undefined);
  const kube = new KubeClient(opts.kubeConfig);

  // 1. Inputs.
  const pre = validateJoinInput({ ...opts, podCidrs: opts.podCidrs ?? [], serviceCidrs: opts.serviceCidrs ?? [] });
  say(`✓ arguments checked (cluster ${pre.clusterId}, broker ${pre.brokerUrl})`);

  // 2. Kubernetes reachable, CIDRs known, not joined elsewhere.
  const version = await kube.version();
  say(`✓ Kubernetes API server ${kube.server} reachable (${version})`);
  let podCidrs = pre.podCidrs;
  if (!podCidrs.length) {
    const nodes = await kube.call('list Nodes', () => kube.core.listNode());
    const nodeCidrs = nodes.items.flatMap((n) => n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []));
    podCidrs = podCidrsFromNodes(nodeCidrs);
    if (!podCidrs.length) throw new StraitError('POD_CIDR_UNKNOWN', `no --pod-cidr given and none of the ${nodes.items.length} Nodes has spec.podCIDRs; pass --pod-cidr`);
    say(`✓ pod CIDRs ${podCidrs.join(', ')} discovered from ${nodes.items.length} Nodes' podCIDRs (pass --pod-cidr to declare the whole range)`);
  } else say(`✓ pod CIDRs ${podCidrs.join(', ')}${pre.serviceCidrs.length ? `, service CIDRs ${pre.serviceCidrs.join(', ')}` : ''}`);
  const existing = await readCredentials(kube);
  if (existing && (existing.clusterID !== pre.clusterId || existing.brokerURL !== pre.brokerUrl)) {
    throw new StraitError('ALREADY_JOINED', `this cluster already joined broker ${existing.brokerURL} as ${existing.clusterID}; run \`strait leave\` first`, { clusterId: existing.clusterID, broker: existing.brokerURL });
  }

  // 3. Broker reachable, CA pinned.
  let caPem = '';
  if (pre.brokerUrl.startsWith('https:')) {
    caPem = await pinBrokerCa(pre.brokerUrl, pre.caHash ?? '', pre.caFile);
    say(`✓ broker CA pinned (${pre.caHash})`);
  } else say('! broker uses plain http: no CA to pin (use https outside tests)');
  const anon = new BrokerClient({ baseUrl: pre.brokerUrl, ...(caPem ? { caPem } : {}), timeoutMs: 10_000 });
  try {
    await anon.health();
  } finally {
    anon.close();
  }
  say(`✓ broker ${pre.brokerUrl} reachable`);

  // 4. Register (or re-join with the credential of an earlier run: the broker lets only that credential, never a
  // join token, re-join a registered cluster, and checks the id and CIDRs are the registered ones).
  let token = existing?.token ?? '';
  let registered = false;
  if (existing) {
    const c = new BrokerClient({ baseUrl: pre.brokerUrl, ...(caPem ? { caPem } : {}) });
    try {
      await c.joinCluster({ id: pre.clusterId, podCIDRs: podCidrs, serviceCIDRs: pre.serviceCidrs }, token);
      say(`✓ already registered at the broker as ${pre.clusterId} (re-joined with the credentials from ${STRAIT_NAMESPACE}/${CREDENTIALS_SECRET})`);
    } catch (e) {
      // A stale credential (the cluster was removed, or the admin rotated it): register anew with the join token.
      if (!isStraitError(e, 'UNAUTHENTICATED')) throw explainJoinFailure(e, pre.clusterId);
      token = '';
    } finally {
      c.close();
    }
  }
  if (!token) {
    const c = new BrokerClient({ baseUrl: pre.brokerUrl, ...(caPem ? { caPem } : {}) });
    try {
      const joined = await c.joinCluster({ id: pre.clusterId, podCIDRs: podCidrs, serviceCIDRs: pre.serviceCidrs }, pre.token);
      token = joined.credentials.token;
      registered = true;
    } catch (e) {
      throw explainJoinFailure(e, pre.clusterId);
    } finally {
      c.close();
    }
    say(`✓ registered at the broker as ${pre.clusterId}`);
  }

  // 5. Kubernetes side; undo the registration if it fails.
  try {
    const crds = await installCrds(kube);
    say(`✓ CRDs: ${crds.created.length} installed, ${crds.upgraded.length} upgraded, ${crds.unchanged.length} unchanged`);
    if (!(await kube.readNamespace(STRAIT_NAMESPACE))) {
      await kube.call(`create Namespace ${STRAIT_NAMESPACE}`, () => kube.core.createNamespace({ body: { metadata: { name: STRAIT_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'strait' } } } }));
      say(`✓ namespace ${STRAIT_NAMESPACE} created`);
    } else say(`✓ namespace ${STRAIT_NAMESPACE} exists`);
    const creds: StoredCredentials = { brokerURL: pre.brokerUrl, clusterID: pre.clusterId, token, caHash: pre.caHash ?? '', caPem };
    await writeSecret(kube, creds);
    say(`✓ credentials stored in Secret ${STRAIT_NAMESPACE}/${CREDENTIALS_SECRET}`);
    await writeClusterSet(kube, { clusterID: pre.clusterId, brokerURL: pre.brokerUrl, ...(pre.caHash ? { caHash: pre.caHash } : {}), podCIDRs: podCidrs, serviceCIDRs: pre.serviceCidrs, credentialsSecret: { namespace: STRAIT_NAMESPACE, name: CREDENTIALS_SECRET } });
    say(`✓ ClusterSet ${CLUSTERSET_NAME} written; start the member agent: strait member-agent${opts.kubeConfig ? ' --kubeconfig FILE' : ''}`);
  } catch (e) {
    if (registered) {
      const c = new BrokerClient({ baseUrl: pre.brokerUrl, token, ...(caPem ? { caPem } : {}) });
      await c.removeCluster(pre.clusterId).catch(() => undefined);
      c.close();
      say(`✗ Kubernetes step failed; the broker registration of ${pre.clusterId} was undone`);
    }
    throw e;
  }
  return { clusterId: pre.clusterId, podCidrs, serviceCidrs: pre.serviceCidrs, registered };
}

/** One clear sentence for the ways registration is refused. */
function explainJoinFailure(e: unknown, clusterId: string): unknown {
  if (isStraitError(e, 'CIDR_OVERLAP')) {
    const d = (e.details ?? {}) as Record<string, unknown>;
    const other = (d.cluster ?? d.conflictingCluster ?? d.other ?? d.with) as string | undefined;
    return new StraitError('CIDR_OVERLAP', `cannot join as ${clusterId}: ${e.message}${other && !e.message.includes(other) ? ` (cluster ${other})` : ''}`, d);
  }
  if (isStraitError(e, 'ALREADY_EXISTS') && (e.details as { rejoin?: string } | undefined)?.rejoin === 'credential') {
    return new StraitError('ALREADY_EXISTS', `cluster ${clusterId} is already registered at the broker and this cluster has no current credential for it: if it is yours, ask the broker admin for a new one (\`POST /v1/clusters/${clusterId}/credentials\`) or to remove it; otherwise choose another --cluster-id`, e.details);
  }
  if (isStraitError(e, 'JOIN_TOKEN_INVALID') || isStraitError(e, 'UNAUTHENTICATED')) {
    return new StraitError('JOIN_TOKEN_INVALID', 'the broker refused the join token: it is unknown, expired or used up (create one with `strait token create`)');
  }
  return e;
}

export async function writeSecret(kube: KubeClient, c: StoredCredentials): Promise<void> {
  const body = {
    metadata: { name: CREDENTIALS_SECRET, namespace: STRAIT_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'strait' } },
    type: 'Opaque',
    stringData: { ...c },
  };
  const cur = await kube.readSecret(STRAIT_NAMESPACE, CREDENTIALS_SECRET);
  if (!cur) await kube.call('create the credentials Secret', () => kube.core.createNamespacedSecret({ namespace: STRAIT_NAMESPACE, body }));
  else await kube.call('update the credentials Secret', () => kube.core.replaceNamespacedSecret({ namespace: STRAIT_NAMESPACE, name: CREDENTIALS_SECRET, body: { ...body, data: {} } }));
}

async function writeClusterSet(kube: KubeClient, spec: ClusterSetSpec): Promise<void> {
  const r = refOf(ClusterSetKind);
  const cur = await kube.getCustom(r, CLUSTERSET_NAME);
  const apiVersion = `${MULTICLUSTER_GROUP}/${MULTICLUSTER_VERSION}`;
  if (!cur) {
    await kube.createCustom(r, { apiVersion, kind: 'ClusterSet', metadata: { name: CLUSTERSET_NAME }, spec: spec as unknown as Record<string, unknown> });
  } else if (JSON.stringify(cur.spec) !== JSON.stringify(spec)) {
    await kube.patchCustom(r, CLUSTERSET_NAME, { spec });
  }
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const prev = (await kube.getCustom(r, CLUSTERSET_NAME))?.status as { conditions?: [] } | undefined;
  if (!prev?.conditions?.length) {
    await kube.patchCustom(r, CLUSTERSET_NAME, { status: { phase: 'Joining', conditions: setCondition([], { type: 'Ready', status: 'False', reason: 'AgentNotRunning', message: 'joined; waiting for the member agent' }, now) } }, { status: true });
  }
}

export interface LeaveOptions {
  kubeConfig: k8s.KubeConfig;
  say?: (line: string) => void;
}

/**
 * `strait leave`: returns the cluster's blocks, addresses and gateways to the broker, removes the cluster there,
 * then deletes the ClusterSet, the credentials Secret and the strait-system namespace. CRDs and user objects stay.
 * Safe to re-run: a cluster that has not joined is reported and nothing happens.
 */
export async function leaveCluster(opts: LeaveOptions): Promise<{ left: boolean; released: { blocks: number; addresses: number; gateways: number } }> {
  const say = opts.say ?? (() => undefined);
  const kube = new KubeClient(opts.kubeConfig);
  const released = { blocks: 0, addresses: 0, gateways: 0 };
  const creds = await readCredentials(kube);
  if (!creds) {
    say(`✓ not joined (no Secret ${STRAIT_NAMESPACE}/${CREDENTIALS_SECRET}); nothing to do`);
    return { left: false, released };
  }
  const broker = new BrokerClient({ baseUrl: creds.brokerURL, token: creds.token, ...(creds.caPem ? { caPem: creds.caPem } : {}) });
  try {
    let known = true;
    try {
      await broker.getCluster(creds.clusterID);
    } catch (e) {
      if (!isStraitError(e, 'NOT_FOUND') && !isStraitError(e, 'UNAUTHENTICATED')) throw e;
      known = false;
      say(`✓ the broker no longer knows ${creds.clusterID}`);
    }
    if (known) {
      for (const b of (await broker.listBlocks({ cluster: creds.clusterID })).items) {
        await broker.releaseBlock(b.id).catch((e: unknown) => { if (!isStraitError(e, 'NOT_FOUND')) throw e; });
        released.blocks++;
      }
      for (const a of (await broker.listAddresses({ cluster: creds.clusterID })).items) {
        await broker.releaseAddress(a.ip).catch((e: unknown) => { if (!isStraitError(e, 'NOT_FOUND')) throw e; });
        released.addresses++;
      }
      for (const g of (await broker.listGateways({ cluster: creds.clusterID })).items) {
        await broker.deleteGateway(creds.clusterID, g.name).catch((e: unknown) => { if (!isStraitError(e, 'NOT_FOUND')) throw e; });
        released.gateways++;
      }
      say(`✓ returned ${released.blocks} blocks, ${released.addresses} addresses and ${released.gateways} gateways to the broker`);
      await broker.removeCluster(creds.clusterID).catch((e: unknown) => { if (!isStraitError(e, 'NOT_FOUND')) throw e; });
      say(`✓ cluster ${creds.clusterID} removed from broker ${creds.brokerURL}`);
    }
  } finally {
    broker.close();
  }
  await kube.deleteCustom(refOf(ClusterSetKind), CLUSTERSET_NAME).catch((e: unknown) => { if (!(isStraitError(e, 'KUBE_API_ERROR') && (e.details as { status?: number }).status === 404)) throw e; });
  await kube.call('delete the credentials Secret', () => kube.core.deleteNamespacedSecret({ namespace: STRAIT_NAMESPACE, name: CREDENTIALS_SECRET })).catch((e: unknown) => { if ((e as StraitError).details?.status !== 404) throw e; });
  await kube.call(`delete Namespace ${STRAIT_NAMESPACE}`, () => kube.core.deleteNamespace({ name: STRAIT_NAMESPACE })).catch((e: unknown) => { if ((e as StraitError).details?.status !== 404) throw e; });
  say(`✓ ClusterSet, credentials and namespace ${STRAIT_NAMESPACE} removed (CRDs and your objects stay)`);
  return { left: true, released };
}
