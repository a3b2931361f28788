import { connect } from 'node:net';
import { CNI_CODE, DEFAULT_AGENT_SOCKET, SUPPORTED_CNI_VERSIONS, cniError, requestedVersion } from './cni-spec.js';
import { decodeResponse, encodeRequest, type CniEnv } from '../node-agent/wire-protocol.js';

export interface PluginOutcome {
  /** Process exit code: 0 on success, 1 on a CNI error. */
  exitCode: number;
  stdout: string;
}

/**
 * The `strait-ipam` plugin: answers VERSION itself and forwards everything else to the node agent, which owns
 * the CNI semantics (validation, allocation, results). Only what is needed to reach the agent is checked here.
 */
export async function runPlugin(env: CniEnv, stdin: string, timeoutMs = 30_000): Promise<PluginOutcome> {
  let conf: unknown;
  let parsed = true;
  try {
    conf = JSON.parse(stdin);
  } catch {
    parsed = false;
  }
  const version = requestedVersion(conf);
  const fail = (code: number, msg: string, details?: string): PluginOutcome => ({
    exitCode: 1,
    stdout: JSON.stringify(cniError(version, code, msg, details)),
  });

  if (env.CNI_COMMAND === 'VERSION') {
    return { exitCode: 0, stdout: JSON.stringify({ cniVersion: version, supportedVersions: SUPPORTED_CNI_VERSIONS }) };
  }
  if (!env.CNI_COMMAND) return fail(CNI_CODE.INVALID_ENV, 'CNI_COMMAND is not set', 'strait-ipam is a CNI plugin; run it from a container runtime or the CNI tools');
  if (!parsed || !conf || typeof conf !== 'object') return fail(CNI_CODE.DECODE_FAILURE, 'the network configuration on stdin is not a JSON object');

  const socket = socketFromNetconf(conf as Record<string, unknown>);
  if (typeof socket !== 'string') return fail(CNI_CODE.INVALID_NETCONF, socket.error);

  const wire = encodeRequest({ env, stdin });
  let raw: string;
  try {
    raw = await exchange(socket, wire, timeoutMs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no socket there' : err.code === 'ECONNREFUSED' ? 'nothing listens there' : err.message;
    return fail(CNI_CODE.TRY_AGAIN_LATER, `the Strait node agent is not reachable at ${socket} (${why}); is \`strait node-agent\` running?`, err.code ?? err.message);
  }
  const res = decodeResponse(raw);
  if (!res) return fail(CNI_CODE.TRY_AGAIN_LATER, `the Strait node agent at ${socket} closed the connection without an answer; try again`);
  return { exitCode: res.ok ? 0 : 1, stdout: res.stdout };
}

/** `ipam.socket` (the usual place), or `socket` when the plugin is fed its own section directly. */
function socketFromNetconf(conf: Record<string, unknown>): string | { error: string } {
  const ipam = conf.ipam;
  const section = ipam && typeof ipam === 'object' ? (ipam as Record<string, unknown>) : conf;
  const s = section.socket;
  if (s === undefined) return DEFAULT_AGENT_SOCKET;
  if (typeof s !== 'string' || s.length === 0 || !s.startsWith('/')) {
    return { error: `ipam.socket must be an absolute path to the node agent's unix socket, got ${JSON.stringify(s)}` };
  }
  return s;
}

function exchange(path: string, payload: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(path);
    sock.setTimeout(timeoutMs, () => sock.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    sock.on('connect', () => sock.end(payload));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
