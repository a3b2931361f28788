import { createConnection, type Socket } from 'node:net';
import { StraitError } from '../api/index.js';
import { decodeFrames, encodePacket, ViciPacketType, type ViciMessage, type ViciPacket } from './vici-codec.js';

/**
 * Minimal VICI client over strongSwan's unix socket. VICI is strictly request/response per connection with
 * events interleaved, so requests are serialised through one promise chain; streamed commands (list-sas,
 * list-conns) register for their event, collect events until the command's response, then unregister.
 */
export class ViciClient {
  private socket: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: ((p: ViciPacket) => void)[] = [];
  private eventSinks = new Map<string, (m: ViciMessage) => void>();
  private chain: Promise<unknown> = Promise.resolve();
  private closedError: Error | undefined;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 15_000,
  ) {}

  async connect(): Promise<void> {
    if (this.socket) return;
    await new Promise<void>((resolve, reject) => {
      const s = createConnection(this.socketPath);
      s.once('connect', () => {
        this.socket = s;
        resolve();
      });
      s.once('error', (e) => reject(new StraitError('TUNNEL_VICI_ERROR', `cannot connect to VICI socket ${this.socketPath}: ${e.message}`)));
      s.on('data', (d: Buffer) => this.onData(d));
      s.on('close', () => {
        this.closedError = new StraitError('TUNNEL_VICI_ERROR', 'VICI connection closed');
        const w = this.waiting;
        this.waiting = [];
        for (const f of w) f({ type: ViciPacketType.CmdUnknown, message: { errmsg: 'connection closed' } });
        this.socket = undefined;
      });
    });
    this.closedError = undefined;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.from(Buffer.concat([this.buf, d]));
    const { packets, rest } = decodeFrames(this.buf);
    this.buf = rest;
    for (const p of packets) {
      if (p.type === ViciPacketType.Event) this.eventSinks.get(p.name ?? '')?.(p.message);
      else this.waiting.shift()?.(p);
    }
  }

  private exchange(p: ViciPacket): Promise<ViciPacket> {
    const s = this.socket;
    if (!s) return Promise.reject(this.closedError ?? new StraitError('TUNNEL_VICI_ERROR', 'VICI client not connected'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new StraitError('TUNNEL_VICI_ERROR', `VICI ${p.name ?? ''} timed out`)), this.timeoutMs);
      timer.unref();
      this.waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
      s.write(encodePacket(p));
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Sends a command and returns its response message; `success = no` becomes TUNNEL_VICI_ERROR unless `raw`. */
  request(command: string, message: ViciMessage = {}, opts: { raw?: boolean } = {}): Promise<ViciMessage> {
    return this.serial(async () => {
      const r = await this.exchange({ type: ViciPacketType.CmdRequest, name: command, message });
      if (r.type === ViciPacketType.CmdUnknown) throw new StraitError('TUNNEL_VICI_ERROR', `VICI command unknown or failed: ${command}`, { command });
      if (!opts.raw && r.message.success === 'no') {
        throw new StraitError('TUNNEL_VICI_ERROR', `VICI ${command} failed: ${String(r.message.errmsg ?? '')}`, { command, errmsg: r.message.errmsg });
      }
      return r.message;
    });
  }

  /** A command that streams `event` messages before its response (e.g. list-sas → list-sa). */
  streamed(command: string, event: string, message: ViciMessage = {}): Promise<{ response: ViciMessage; events: ViciMessage[] }> {
    return this.serial(async () => {
      const events: ViciMessage[] = [];
      this.eventSinks.set(event, (m) => events.push(m));
      try {
        const reg = await this.exchange({ type: ViciPacketType.EventRegister, name: event, message: {} });
        if (reg.type !== ViciPacketType.EventConfirm) throw new StraitError('TUNNEL_VICI_ERROR', `VICI cannot register for ${event}`);
        const r = await this.exchange({ type: ViciPacketType.CmdRequest, name: command, message });
        await this.exchange({ type: ViciPacketType.EventUnregister, name: event, message: {} });
        if (r.type === ViciPacketType.CmdUnknown) throw new StraitError('TUNNEL_VICI_ERROR', `VICI command unknown: ${command}`);
        return { response: r.message, events };
      } finally {
        this.eventSinks.delete(event);
      }
    });
  }

  version(): Promise<ViciMessage> {
    return this.request('version');
  }
  loadConn(name: string, conn: ViciMessage): Promise<ViciMessage> {
    return this.request('load-conn', { [name]: conn });
  }
  unloadConn(name: string): Promise<ViciMessage> {
    return this.request('unload-conn', { name });
  }
  loadShared(s: { id: string; type: 'IKE' | 'EAP' | 'PPK'; data: string; owners: string[] }): Promise<ViciMessage> {
    return this.request('load-shared', s);
  }
  unloadShared(id: string): Promise<ViciMessage> {
    return this.request('unload-shared', { id });
  }
  loadKey(type: 'any' | 'rsa' | 'ecdsa' | 'ed25519', pem: string): Promise<ViciMessage> {
    return this.request('load-key', { type, data: pem });
  }
  async getConns(): Promise<string[]> {
    const r = await this.request('get-conns');
    return Array.isArray(r.conns) ? r.conns : [];
  }
  initiate(ike: string, child: string, timeoutMs = 10_000): Promise<ViciMessage> {
    return this.request('initiate', { ike, child, timeout: String(timeoutMs), 'init-limits': 'no' });
  }
  terminate(ike: string, timeoutMs = 5_000): Promise<ViciMessage> {
    return this.request('terminate', { ike, timeout: String(timeoutMs), force: 'yes' }, { raw: true });
  }
  /** Deletes one IKE SA (and its CHILD_SAs) with a proper DELETE to the peer, so both sides drop it. */
  terminateIkeId(uniqueId: string, timeoutMs = 5_000): Promise<ViciMessage> {
    return this.request('terminate', { 'ike-id': uniqueId, timeout: String(timeoutMs) }, { raw: true });
  }
  rekey(ike: string, opts: { reauth?: boolean } = {}): Promise<ViciMessage> {
    return this.request('rekey', { ike, ...(opts.reauth ? { reauth: 'yes' } : {}) });
  }
  async listSas(filter: ViciMessage = {}): Promise<ViciMessage[]> {
    return (await this.streamed('list-sas', 'list-sa', filter)).events;
  }
}
