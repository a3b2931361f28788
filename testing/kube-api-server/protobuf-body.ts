/**
 * Decodes the protobuf request bodies kubectl's typed commands send (`kubectl create namespace|configmap|secret|
 * serviceaccount`): the `k8s\0` envelope (runtime.Unknown) around a Namespace, ConfigMap, Secret or ServiceAccount,
 * with the field numbers of k8s.io/api/core/v1/generated.proto. Other kinds are refused by the caller (415). Pure.
 */

type Json = Record<string, unknown>;

export class ProtobufError extends Error {}

interface Field { no: number; wire: number; value: bigint | Buffer }

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new ProtobufError('truncated varint');
    result |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [result, pos];
    shift += 7n;
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p] = readVarint(buf, pos);
    pos = p;
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [v, q] = readVarint(buf, pos);
      out.push({ no, wire, value: v });
      pos = q;
    } else if (wire === 2) {
      const [len, q] = readVarint(buf, pos);
      const end = q + Number(len);
      if (end > buf.length) throw new ProtobufError('truncated field');
      out.push({ no, wire, value: buf.subarray(q, end) });
      pos = end;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new ProtobufError(`unsupported wire type ${wire}`);
  }
  return out;
}

const bytes = (f: Field): Buffer => (Buffer.isBuffer(f.value) ? f.value : Buffer.alloc(0));
const text = (f: Field): string => bytes(f).toString('utf8');
const all = (fs: Field[], no: number): Field[] => fs.filter((f) => f.no === no);
const one = (fs: Field[], no: number): Field | undefined => all(fs, no).at(-1);

function map(fs: Field[], no: number, value: (b: Buffer) => string): Record<string, string> | undefined {
  const entries = all(fs, no).map((f) => {
    const e = fields(bytes(f));
    const k = one(e, 1);
    const v = one(e, 2);
    return [k ? text(k) : '', v ? value(bytes(v)) : ''] as const;
  });
  return entries.length ? Object.fromEntries(entries) : undefined;
}

const utf8 = (b: Buffer): string => b.toString('utf8');
const base64 = (b: Buffer): string => b.toString('base64');

function objectMeta(buf: Buffer): Json {
  const fs = fields(buf);
  const meta: Json = {};
  const strings: [number, string][] = [[1, 'name'], [2, 'generateName'], [3, 'namespace'], [5, 'uid'], [6, 'resourceVersion']];
  for (const [no, key] of strings) {
    const f = one(fs, no);
    if (f) meta[key] = text(f);
  }
  const labels = map(fs, 11, utf8);
  if (labels) meta.labels = labels;
  const annotations = map(fs, 12, utf8);
  if (annotations) meta.annotations = annotations;
  const finalizers = all(fs, 14).map(text);
  if (finalizers.length) meta.finalizers = finalizers;
  return meta;
}

function named(buf: Buffer): Json {
  const f = one(fields(buf), 1);
  return f ? { name: text(f) } : {};
}

const KINDS: Record<string, (fs: Field[]) => Json> = {
  Namespace: (fs) => {
    const spec = one(fs, 2);
    const finalizers = spec ? all(fields(bytes(spec)), 1).map(text) : [];
    return finalizers.length ? { spec: { finalizers } } : {};
  },
  ConfigMap: (fs) => {
    const data = map(fs, 2, utf8);
    const binaryData = map(fs, 3, base64);
    const immutable = one(fs, 4);
    return { ...(data ? { data } : {}), ...(binaryData ? { binaryData } : {}), ...(immutable ? { immutable: immutable.value === 1n } : {}) };
  },
  Secret: (fs) => {
    const data = map(fs, 2, base64);
    const type = one(fs, 3);
    const stringData = map(fs, 4, utf8);
    const immutable = one(fs, 5);
    return {
      ...(data ? { data } : {}), ...(type ? { type: text(type) } : {}), ...(stringData ? { stringData } : {}),
      ...(immutable ? { immutable: immutable.value === 1n } : {}),
    };
  },
  ServiceAccount: (fs) => {
    const secrets = all(fs, 2).map((f) => named(bytes(f)));
    const pulls = all(fs, 3).map((f) => named(bytes(f)));
    const automount = one(fs, 4);
    return {
      ...(secrets.length ? { secrets } : {}), ...(pulls.length ? { imagePullSecrets: pulls } : {}),
      ...(automount ? { automountServiceAccountToken: automount.value === 1n } : {}),
    };
  },
};

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** The JSON object a protobuf body stands for; throws ProtobufError for a kind outside KINDS or a bad body. */
export function decodeProtobufObject(body: Buffer): Json {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new ProtobufError('not a Kubernetes protobuf body (no k8s\\0 prefix)');
  const unknown = fields(body.subarray(4));
  const typeMeta = one(unknown, 1);
  const raw = one(unknown, 2);
  const tm = typeMeta ? fields(bytes(typeMeta)) : [];
  const apiVersion = one(tm, 1);
  const kindField = one(tm, 2);
  const kind = kindField ? text(kindField) : '';
  const decode = KINDS[kind];
  if (!decode || (apiVersion && text(apiVersion) !== 'v1')) throw new ProtobufError(`the test API server decodes protobuf only for ${Object.keys(KINDS).join(', ')} (got ${kind || 'no kind'})`);
  const fs = raw ? fields(bytes(raw)) : [];
  const meta = one(fs, 1);
  return { apiVersion: 'v1', kind, metadata: meta ? objectMeta(bytes(meta)) : {}, ...decode(fs) };
}
