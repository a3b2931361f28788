/**
 * Minimal OpenAPI schemas for the built-in kinds the test API server serves: the top-level fields of each kind are
 * named (so `kubectl explain` and the OpenAPI documents say something true), their insides are left open
 * (`x-kubernetes-preserve-unknown-fields`). They are not the upstream schemas: the server neither validates nor
 * prunes built-in objects against them.
 */

type Schema = Record<string, unknown>;

const open = (description: string): Schema => ({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true });
const str = (description: string): Schema => ({ type: 'string', description });
const list = (description: string): Schema => ({ type: 'array', description, items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } });
const strMap = (description: string): Schema => ({ type: 'object', description, additionalProperties: { type: 'string' } });

const SPEC_STATUS = (what: string): Record<string, Schema> => ({
  spec: open(`Desired state of the ${what}.`),
  status: open(`Observed state of the ${what} (status subresource).`),
});

const FIELDS: Record<string, Record<string, Schema>> = {
  Namespace: SPEC_STATUS('namespace'),
  Node: SPEC_STATUS('node'),
  Pod: SPEC_STATUS('pod'),
  Service: SPEC_STATUS('service'),
  Deployment: SPEC_STATUS('deployment'),
  DaemonSet: SPEC_STATUS('daemon set'),
  StatefulSet: SPEC_STATUS('stateful set'),
  ReplicaSet: SPEC_STATUS('replica set'),
  CustomResourceDefinition: SPEC_STATUS('custom resource definition'),
  Lease: { spec: open('Lease holder, duration and renew time.') },
  Secret: {
    data: strMap('Base64-encoded values.'), stringData: strMap('Write-only plain values, merged into data.'),
    type: str('Secret type.'), immutable: { type: 'boolean', description: 'Data may not change.' },
  },
  ConfigMap: {
    data: strMap('Configuration values.'), binaryData: strMap('Base64-encoded binary values.'),
    immutable: { type: 'boolean', description: 'Data may not change.' },
  },
  Endpoints: { subsets: list('Addresses and ports.') },
  Event: {
    involvedObject: open('The object this event is about.'), reason: str('Short reason.'), message: str('Description.'),
    type: str('Normal or Warning.'), count: { type: 'integer' }, firstTimestamp: str('First seen.'), lastTimestamp: str('Last seen.'),
    source: open('Reporting component.'), eventTime: str('Time of the event.'), reportingComponent: str('Reporter.'),
    reportingInstance: str('Reporter instance.'), action: str('Action taken.'), related: open('Second object.'), series: open('Series data.'),
  },
  ServiceAccount: {
    secrets: list('Secrets the service account may use.'), imagePullSecrets: list('Image pull secrets.'),
    automountServiceAccountToken: { type: 'boolean', description: 'Mount a token into pods.' },
  },
  Role: { rules: list('Policy rules.') },
  ClusterRole: { rules: list('Policy rules.'), aggregationRule: open('Aggregation of other cluster roles.') },
  RoleBinding: { roleRef: open('The role bound.'), subjects: list('Who the role is bound to.') },
  ClusterRoleBinding: { roleRef: open('The cluster role bound.'), subjects: list('Who the role is bound to.') },
};

/** The schema of a built-in kind, with `metadata` pointing at ObjectMeta like the upstream documents. */
export function builtinSchema(kind: string): Schema {
  return {
    type: 'object',
    description: `${kind} (a minimal schema served by the Strait test API server).`,
    properties: {
      apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
      kind: str('Kind is a string value representing the REST resource this object represents.'),
      metadata: open('Standard object metadata.'),
      ...(FIELDS[kind] ?? {}),
    },
  };
}
