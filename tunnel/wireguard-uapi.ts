import { createConnection } from 'node:net';
import { StraitError } from '../api/index.js';
import { decodeUapiGet, decodeUapiSetAnswer, encodeUapiSet, UAPI_GET, uapiAnswerLength, type WireguardDeviceChange, type WireguardPeerState } from './wireguard-uapi-codec.js';

export const UAPI_TIMEOUT_MS = 2000;

/**
 * One request on a new connection to a wireguard-go UAPI socket, answered through its blank line. wireguard-go would
 * keep the connection for more requests, but after a refused `set` it leaves the rest of the request unread and
 * drops the connection at the next one; a connection per request (a unix connect costs microseconds) has no such
 * state. Unix sockets are not per network namespace: no `ip netns exec`, no fork.
 */
export function uapiRequest(socketPath: string, request: string, timeoutMs = UAPI_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const s = createConnection(socketPath);
    s.setEncoding('utf8');
    const finish = (err: Error | undefined, answer?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const op = request.slice(0, request.indexOf('\n'));
    const timer = setTimeout(
      () => finish(new StraitError('TUNNEL_DATAPATH_FAILED', `wireguard UAPI: no answer to ${op} from ${socketPath} within ${timeoutMs} ms`, { socket: socketPath, timeoutMs })),
      timeoutMs,
    );
    s.on('connect', () => s.write(request));
    s.on('data', (d: string) => {
      buf += d;
      const n = uapiAnswerLength(buf);
      if (n >= 0) finish(undefined, buf.slice(0, n));
    });
    s.on('error', (e: NodeJS.ErrnoException) =>
      finish(new StraitError('TUNNEL_DATAPATH_FAILED', `wireguard UAPI: ${socketPath}: ${e.message}`, { socket: socketPath, errno: e.code }, { cause: e })),
    );
    s.on('close', () =>
      finish(new StraitError('TUNNEL_DATAPATH_FAILED', `wireguard UAPI: ${socketPath} closed before answering ${op}`, { socket: socketPath, partial: buf.slice(-200) })),
    );
  });
}

/** The device's peers (`get=1`). */
export async function uapiGetPeers(socketPath: string, timeoutMs?: number): Promise<WireguardPeerState[]> {
  return decodeUapiGet(await uapiRequest(socketPath, UAPI_GET, timeoutMs));
}

/** Applies a change in one transaction (`set=1`); a refusal (errno ≠ 0) throws TUNNEL_DATAPATH_FAILED. */
export async function uapiSet(socketPath: string, change: WireguardDeviceChange, timeoutMs?: number): Promise<void> {
  const request = encodeUapiSet(change);
  decodeUapiSetAnswer(await uapiRequest(socketPath, request, timeoutMs));
}
