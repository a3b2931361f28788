/**
 * The node agent's unix-socket protocol, one request per connection. It is plain text on purpose: the
 * `strait-ipam` plugin may be a two-line shell shim around socat (process start-up dominates a CNI call, and
 * Node alone costs far more than the whole reference `host-local` plugin), and a shell can write this framing
 * without a JSON encoder.
 *
 * Request:  `STRAIT-CNI 1\n`, then `KEY=value\n` lines (the CNI_* environment), an empty line, then the
 *           netconf exactly as the runtime passed it on stdin, until the client half-closes.
 * Response: one status byte (`0` success, `1` failure), then what the plugin prints on stdout (a CNI result,
 *           a CNI error object, or nothing), then the agent closes.
 *
 * No imports: the Node plugin loads this file and must start fast.
 */
export const WIRE_MAGIC = 'STRAIT-CNI 1';

/** The CNI environment variables the plugin forwards (the spec's set). */
export const CNI_ENV_KEYS = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'] as const;
export type CniEnvKey = (typeof CNI_ENV_KEYS)[number];
export type CniEnv = Partial<Record<CniEnvKey, string>>;

export interface WireRequest {
  env: CniEnv;
  /** The netconf bytes from stdin, undecoded. */
  stdin: string;
}

export interface WireResponse {
  ok: boolean;
  stdout: string;
}

export function encodeRequest(req: WireRequest): string {
  let head = `${WIRE_MAGIC}\n`;
  for (const k of CNI_ENV_KEYS) {
    const v = req.env[k];
    // A newline would end the header early; CNI values never contain one, so drop the key rather than corrupt.
    if (v !== undefined && !v.includes('\n')) head += `${k}=${v}\n`;
  }
  return `${head}\n${req.stdin}`;
}

/** Parses a complete request; returns a reason string when the framing is wrong. */
export function decodeRequest(raw: string): WireRequest | string {
  const end = raw.indexOf('\n\n');
  if (end < 0) return 'request has no end of header';
  const lines = raw.slice(0, end).split('\n');
  if (lines[0] !== WIRE_MAGIC) return `unknown protocol "${(lines[0] ?? '').slice(0, 40)}"`;
  const env: CniEnv = {};
  for (const line of lines.slice(1)) {
    const eq = line.indexOf('=');
    if (eq <= 0) return `malformed header line "${line.slice(0, 40)}"`;
    const k = line.slice(0, eq);
    if ((CNI_ENV_KEYS as readonly string[]).includes(k)) env[k as CniEnvKey] = line.slice(eq + 1);
  }
  return { env, stdin: raw.slice(end + 2) };
}

export function encodeResponse(res: WireResponse): string {
  return `${res.ok ? '0' : '1'}${res.stdout}`;
}

export function decodeResponse(raw: string): WireResponse | undefined {
  const c = raw[0];
  if (c !== '0' && c !== '1') return undefined;
  return { ok: c === '0', stdout: raw.slice(1) };
}
