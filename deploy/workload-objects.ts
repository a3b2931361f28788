import type * as k8s from '@kubernetes/client-node';
import { CREDENTIALS_SECRET, DEFAULT_CNI_SOCKET } from '../member-agent/index.js';
import { labelsOf, serviceAccountName } from './rbac-objects.js';

export interface WorkloadOptions {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  namespace: string;
  version: string;
  /** Broker URL for the node and gateway agents; default: the one `strait join` stored in the credentials Secret. */
  broker?: string;
  /** The gateway agents' lease store (one Redis all candidates reach). */
  leaseRedis: string;
  /** `name=address@priority` per gateway candidate (names are node names). */
  gatewayCandidates: readonly string[];
  /** Extra flags for `strait gateway` (e.g. `--wan-dev=eth1`). */
  gatewayArgs: readonly string[];
  /** Extra flags for `strait node-steer` (e.g. `--dev=eth0`, `--cluster-cidr=10.0.0.0/16`). */
  nodeSteerArgs: readonly string[];
}

/** Where things live inside the image (Dockerfile) and on the host. */
export const IMAGE_PATHS = { entrypoint: 'strait', home: '/opt/strait' } as const;
export const HOST_PATHS = {
  cniBin: '/opt/cni/bin', cniConf: '/etc/cni/net.d', run: '/run/strait', ipamState: '/var/lib/strait/ipam', gatewayState: '/var/lib/strait/gateway',
} as const;
const CREDENTIALS_MOUNT = '/etc/strait/credentials';

/** The broker credentials `strait join` stored, as environment variables (the Secret is the one source). */
const credentialEnv = (o: WorkloadOptions, withToken: boolean): k8s.V1EnvVar[] => {
  const key = (name: string, k: string): k8s.V1EnvVar => ({ name, valueFrom: { secretKeyRef: { name: CREDENTIALS_SECRET, key: k } } });
  return [
    ...(o.broker ? [{ name: 'STRAIT_BROKER_URL', value: o.broker }] : [key('STRAIT_BROKER_URL', 'brokerURL')]),
    key('STRAIT_CLUSTER_ID', 'clusterID'),
    ...(withToken ? [key('STRAIT_BROKER_TOKEN', 'token')] : []),
  ];
};
const fieldEnv = (name: string, fieldPath: string): k8s.V1EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });

/** No privileges beyond what is listed: no escalation, no capabilities, read-only image. */
const locked: k8s.V1SecurityContext = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
const hostDir = (name: string, path: string, type = 'DirectoryOrCreate'): k8s.V1Volume => ({ name, hostPath: { path, type } });
/** A container of the Strait image running `strait <args>`. */
const straitContainer = (name: string, o: WorkloadOptions, args: string[]): k8s.V1Container => ({
  name, image: o.image, imagePullPolicy: o.imagePullPolicy, command: [IMAGE_PATHS.entrypoint], args,
});

function podMeta(component: string, o: WorkloadOptions): k8s.V1ObjectMeta {
  return { labels: labelsOf(component, o.version) };
}
const selectorOf = (component: string): k8s.V1LabelSelector => ({ matchLabels: { 'app.kubernetes.io/name': `strait-${component}` } });

/**
 * The member agent: a Deployment of 2 replicas; one leads through the Lease `strait-member-agent`, the other
 * waits to take over. It needs no host access at all, so it runs as an unprivileged user.
 */
export function memberAgentDeployment(o: WorkloadOptions): k8s.V1Deployment {
  const component = 'member-agent';
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: `strait-${component}`, namespace: o.namespace, labels: labelsOf(component, o.version) },
    spec: {
      replicas: 2,
      selector: selectorOf(component),
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } },
      template: {
        metadata: podMeta(component, o),
        spec: {
          serviceAccountName: serviceAccountName(component),
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          // The standby should not share the leader's node, so losing a node costs one lease duration at most.
          affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: selectorOf(component) } }] } },
          containers: [{
            ...straitContainer(component, o, ['member-agent', '--identity', '$(POD_NAME)']),
            env: [fieldEnv('POD_NAME', 'metadata.name')],
            resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
            securityContext: locked,
          }],
        },
      },
    },
  };
}

/**
 * The node agent on every node: its init container installs the `strait-ipam` plugin and the conflist into the
 * host's CNI directories; the agent serves the plugin on a unix socket in the host's /run/strait and keeps its
 * allocations in the host's /var/lib/strait/ipam (they must outlive the pod). Host network, because it is the pod
 * network's IPAM and must run before that network exists; root (the host directories), but no capability.
 */
export function nodeAgentDaemonSet(o: WorkloadOptions): k8s.V1DaemonSet {
  const component = 'node-agent';
  // Every node needs the CNI plugin, tainted or not ready ones included (the network is what makes them ready).
  return hostNetworkDaemonSet(component, o, {}, {
    securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
    initContainers: [{
      ...straitContainer('install-cni', o, ['install-cni', '--bin-dir', `/host${HOST_PATHS.cniBin}`, '--conf-dir', `/host${HOST_PATHS.cniConf}`, '--socket', DEFAULT_CNI_SOCKET]),
      volumeMounts: [{ name: 'cni-bin', mountPath: `/host${HOST_PATHS.cniBin}` }, { name: 'cni-conf', mountPath: `/host${HOST_PATHS.cniConf}` }],
      securityContext: { ...locked, runAsUser: 0 },
    }],
    containers: [{
      ...straitContainer(component, o, [
        'node-agent', '--broker', '$(STRAIT_BROKER_URL)', '--cluster', '$(STRAIT_CLUSTER_ID)', '--node-name', '$(NODE_NAME)',
        '--socket', DEFAULT_CNI_SOCKET, '--state-dir', HOST_PATHS.ipamState, '--ca', `${CREDENTIALS_MOUNT}/caPem`,
      ]),
      env: [fieldEnv('NODE_NAME', 'spec.nodeName'), ...credentialEnv(o, true)],
      readinessProbe: { exec: { command: ['test', '-S', DEFAULT_CNI_SOCKET] }, periodSeconds: 5 },
      resources: { requests: { cpu: '20m', memory: '96Mi' }, limits: { memory: '384Mi' } },
      securityContext: { ...locked, runAsUser: 0 },
      volumeMounts: [
        { name: 'run', mountPath: HOST_PATHS.run },
        { name: 'ipam-state', mountPath: HOST_PATHS.ipamState },
        { name: 'credentials', mountPath: CREDENTIALS_MOUNT, readOnly: true },
      ],
    }],
    volumes: [
      hostDir('cni-bin', HOST_PATHS.cniBin), hostDir('cni-conf', HOST_PATHS.cniConf),
      hostDir('run', HOST_PATHS.run), hostDir('ipam-state', HOST_PATHS.ipamState),
      { name: 'credentials', secret: { secretName: CREDENTIALS_SECRET, items: [{ key: 'caPem', path: 'caPem' }] } },
    ],
  });
}

/**
 * The gateway agent on the nodes labelled `strait.io/gateway=true`. It programs the host's network: links,
 * addresses, routes and VXLAN (`ip`, NET_ADMIN), nftables SNAT and fences (`nft`, NET_ADMIN), gratuitous ARP and
 * probes (raw sockets, NET_RAW), tunnels (wireguard-go needs /dev/net/tun), and per-device sysctls of the host's
 * network namespace (ip_forward, rp_filter on its VXLAN device, ndisc_notify). Kubernetes mounts /proc/sys
 * read-only in every unprivileged container and refuses net sysctls for host-network pods, so the last item
 * needs a privileged container; docs/install.md says so.
 */
export function gatewayAgentDaemonSet(o: WorkloadOptions): k8s.V1DaemonSet {
  const component = 'gateway-agent';
  // Rolled one candidate at a time: the others hold the egress IPs and tunnels meanwhile (sub-second failover).
  return hostNetworkDaemonSet(component, o, { nodeSelector: { 'strait.io/gateway': 'true' } }, {
    terminationGracePeriodSeconds: 30,
    containers: [{
      ...straitContainer(component, o, [
        'gateway', '--cluster', '$(STRAIT_CLUSTER_ID)', '--name', '$(NODE_NAME)', '--lease-redis', o.leaseRedis,
        '--broker', '$(STRAIT_BROKER_URL)', '--token', '$(STRAIT_BROKER_TOKEN)', '--egress-from-broker',
        '--state-dir', `${HOST_PATHS.gatewayState}/$(STRAIT_CLUSTER_ID)-$(NODE_NAME)`,
        ...o.gatewayCandidates.flatMap((c) => ['--candidate', c]),
        ...o.gatewayArgs,
      ]),
      env: [fieldEnv('NODE_NAME', 'spec.nodeName'), ...credentialEnv(o, true)],
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
      volumeMounts: [{ name: 'state', mountPath: HOST_PATHS.gatewayState }],
    }],
    volumes: [hostDir('state', HOST_PATHS.gatewayState)],
  });
}

/**
 * Node-side egress steering on every node (`strait node-steer`): it probes the gateway candidates and steers what
 * this node's pods send to the active one, following the broker's egress objects and the pods its EgressPolicy
 * selectors match (its own identity: this node's pods and the namespaces, list and watch). It programs the host's
 * network (routes, the VXLAN device and policy routing with `ip`, its nftables table with `nft`: NET_ADMIN) and
 * moves itself to realtime scheduling so probes run on time under load (`chrt`: SYS_NICE). No sysctl, no raw
 * socket (its probes are UDP), so unlike the gateway agent it is not privileged. Every node, tainted ones
 * included: a pod anywhere may be selected.
 */
export function nodeSteerDaemonSet(o: WorkloadOptions): k8s.V1DaemonSet {
  const component = 'node-steer';
  return hostNetworkDaemonSet(component, o, {}, {
    securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{
      ...straitContainer(component, o, [
        'node-steer', '--cluster', '$(STRAIT_CLUSTER_ID)', '--name', '$(NODE_NAME)',
        '--broker', '$(STRAIT_BROKER_URL)', '--token', '$(STRAIT_BROKER_TOKEN)', '--egress-from-broker',
        ...o.gatewayCandidates.flatMap((c) => ['--candidate', c]),
        ...o.nodeSteerArgs,
      ]),
      env: [fieldEnv('NODE_NAME', 'spec.nodeName'), ...credentialEnv(o, true)],
      resources: { requests: { cpu: '20m', memory: '96Mi' }, limits: { memory: '384Mi' } },
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 0, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_NICE'] } },
    }],
  });
}

/**
 * A DaemonSet of one component on the host's network: node-critical, tolerating every taint (on all the nodes its
 * selector allows), rolled one node at a time. `first` are pod spec fields placed before the host-network ones and
 * `rest` those after them, so that the generated manifests keep their key order.
 */
function hostNetworkDaemonSet(component: string, o: WorkloadOptions, first: Partial<k8s.V1PodSpec>, rest: Partial<k8s.V1PodSpec> & Pick<k8s.V1PodSpec, 'containers'>): k8s.V1DaemonSet {
  return {
    apiVersion: 'apps/v1', kind: 'DaemonSet',
    metadata: { name: `strait-${component}`, namespace: o.namespace, labels: labelsOf(component, o.version) },
    spec: {
      selector: selectorOf(component),
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: podMeta(component, o),
        spec: {
          serviceAccountName: serviceAccountName(component),
          ...first,
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          priorityClassName: 'system-node-critical',
          tolerations: [{ operator: 'Exists' }],
          ...rest,
        },
      },
    },
  };
}
