import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdirSync, rmSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { StraitError } from '../../api/index.js';
import type { Logger } from '../../host/index.js';
import { decodeRequest, encodeResponse, type WireResponse } from './wire-protocol.js';
import { handleCniCall } from './cni-handler.js';
import { CNI_CODE, cniError } from '../cni-plugin/cni-spec.js';
import type { IpamService } from './ipam-service.js';

/** A request larger than this is not a netconf; refuse it instead of buffering without bound. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/**
 * Serves the node agent's IPAM API (the CNI forwarding protocol of wire-protocol.ts) on a unix socket.
 * One request per connection; requests are handled concurrently, the IpamService serialises what must be.
 */
export class AgentServer {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly ipam: IpamService,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true });
    if (await socketAnswers(this.socketPath)) {
      throw new StraitError('AGENT_SOCKET_IN_USE', `another process already serves ${this.socketPath}`, { socket: this.socketPath });
    }
    // A socket file left by a killed agent would make listen() fail with EADDRINUSE.
    rmSync(this.socketPath, { force: true });
    // allowHalfOpen: the client half-closes to mark the end of its request and still reads the answer.
    const server = createServer({ allowHalfOpen: true }, (sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.socketPath, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Connections in flight get a moment to finish; idle ones are closed so close() can complete.
      setTimeout(() => {
        for (const s of this.open) s.destroy();
      }, 2000).unref();
    });
    rmSync(this.socketPath, { force: true });
  }

  private onConnection(sock: Socket): void {
    this.open.add(sock);
    sock.on('close', () => this.open.delete(sock));
    sock.on('error', (e) => this.log.debug({ err: e }, 'client connection error'));
    const chunks: Buffer[] = [];
    let size = 0;
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST_BYTES) {
        sock.end(encodeResponse({ ok: false, stdout: JSON.stringify(cniError('1.0.0', CNI_CODE.DECODE_FAILURE, 'request too large')) }));
        sock.removeAllListeners('data');
        return;
      }
      chunks.push(c);
    });
    sock.on('end', () => {
      if (size > MAX_REQUEST_BYTES) return;
      // A connection closed without a request is a liveness probe, not a call.
      if (size === 0) {
        sock.end();
        return;
      }
      void this.answer(sock, Buffer.concat(chunks).toString('utf8'));
    });
  }

  private async answer(sock: Socket, raw: string): Promise<void> {
    const started = process.hrtime.bigint();
    const req = decodeRequest(raw);
    let res: WireResponse;
    if (typeof req === 'string') {
      res = { ok: false, stdout: JSON.stringify(cniError('1.0.0', CNI_CODE.DECODE_FAILURE, `malformed request from the plugin: ${req}`)) };
    } else {
      res = await handleCniCall(req, this.ipam);
    }
    if (!sock.destroyed) sock.end(encodeResponse(res));
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const env = typeof req === 'string' ? {} : req.env;
    const fields = { cmd: env.CNI_COMMAND, containerId: env.CNI_CONTAINERID, ifName: env.CNI_IFNAME, ok: res.ok, ms: Math.round(ms * 100) / 100 };
    if (res.ok) this.log.debug(fields, 'cni call');
    else this.log.info({ ...fields, error: res.stdout }, 'cni call failed');
  }
}

/** True when something accepts connections on the unix socket (a live agent, as opposed to a stale socket file). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
