import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDir, sleep } from '../../host/index.js';
import type { Lab } from './lab.js';

/** Traffic helpers for lab tests and tools: all run inside the lab's namespaces, to lab addresses only. */

/** Resolves with the exit code, or 'timeout' after `ms` (the timer is cleared so it never holds the process). */
async function exitedWithin(child: ChildProcess, ms: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), ms);
  });
  try {
    return await Promise.race([exited(child), t]);
  } finally {
    clearTimeout(timer);
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err };
}

/** Waits until `host` listens on TCP `port`. */
export async function waitListening(lab: Lab, host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await lab.exec(host, ['ss', '-Hltn', `sport = :${port}`], { allowFailure: true });
    if (r.stdout.trim().length > 0) return;
    await sleep(20);
  }
  throw new Error(`${host} does not listen on ${port} after ${timeoutMs} ms`);
}

export async function ping(lab: Lab, from: string, to: string, extra: string[] = []): Promise<boolean> {
  const r = await lab.exec(from, ['ping', '-n', '-c', '1', '-W', '2', ...extra, to], { allowFailure: true });
  return r.code === 0;
}

/** Retries a ping until it answers (tunnels may need a handshake); false after `timeoutMs`. */
export async function pingUntil(lab: Lab, from: string, to: string, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await lab.exec(from, ['ping', '-n', '-c', '1', '-W', '1', to], { allowFailure: true });
    if (r.code === 0) return true;
    await sleep(50);
  }
  return false;
}

export interface PingStats {
  transmitted: number;
  received: number;
  lost: number;
  /** Replies beyond the first for the same sequence number (ping's `+N duplicates`). */
  duplicates: number;
}

export function parsePingSummary(text: string): PingStats | undefined {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+(\d+) duplicates)?/.exec(text);
  if (!m) return undefined;
  const transmitted = Number(m[1]);
  const received = Number(m[2]);
  return { transmitted, received, lost: transmitted - received, duplicates: Number(m[3] ?? 0) };
}

/** A ping that runs in the background until `stop()`, which returns its counts. */
export function backgroundPing(lab: Lab, from: string, to: string, intervalS = 0.05): { stop(): Promise<PingStats> } {
  const child = lab.spawn(from, ['ping', '-n', '-i', String(intervalS), '-W', '1', to]);
  const io = collect(child);
  return {
    async stop() {
      child.kill('SIGINT');
      await exited(child);
      const s = parsePingSummary(io.out());
      if (!s) throw new Error(`no ping summary: ${io.out().slice(-500)} ${io.err().slice(-500)}`);
      return s;
    },
  };
}

async function sha256In(lab: Lab, host: string, file: string): Promise<string> {
  const r = await lab.exec(host, ['sha256sum', file]);
  return r.stdout.split(' ')[0] ?? '';
}

export interface TransferResult {
  bytes: number;
  sentSha256: string;
  receivedSha256: string;
  ms: number;
}

/**
 * Sends `bytes` random bytes over TCP from one host to another with socat and returns the SHA-256 computed
 * inside each end's namespace (files live in the run dir).
 */
export async function tcpTransfer(lab: Lab, from: string, to: string, bytes: number, port = 5001): Promise<TransferResult> {
  const dir = join(runDir(lab.runId), 'traffic');
  mkdirSync(dir, { recursive: true });
  const tag = `${from}-${to}-${port}`;
  const src = join(dir, `send-${tag}.bin`);
  const dst = join(dir, `recv-${tag}.bin`);
  writeFileSync(src, randomBytes(bytes));
  const server = lab.spawn(to, ['socat', '-u', `TCP-LISTEN:${port},bind=${lab.ip(to)},reuseaddr`, `CREATE:${dst}`]);
  const io = collect(server);
  try {
    await waitListening(lab, to, port);
    const t0 = performance.now();
    await lab.exec(from, ['timeout', '60', 'socat', '-u', `OPEN:${src}`, `TCP:${lab.ip(to)}:${port},connect-timeout=5`], { timeoutMs: 70_000 });
    const code = await exitedWithin(server, 30_000);
    if (code !== 0) throw new Error(`receiver did not finish cleanly (${String(code)}): ${io.err().slice(-500)}`);
    const ms = Math.round(performance.now() - t0);
    const [sentSha256, receivedSha256] = await Promise.all([sha256In(lab, from, src), sha256In(lab, to, dst)]);
    return { bytes: readFileSync(dst).length, sentSha256, receivedSha256, ms };
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

/** Sends `payload` over one TCP connection and returns what the receiver got. */
export async function tcpMessage(lab: Lab, from: string, to: string, payload: string, port = 7777): Promise<string> {
  const server = lab.spawn(to, ['socat', '-u', `TCP-LISTEN:${port},bind=${lab.ip(to)},reuseaddr`, 'STDOUT']);
  const io = collect(server);
  try {
    await waitListening(lab, to, port);
    await lab.exec(from, ['timeout', '20', 'socat', '-u', 'STDIN', `TCP:${lab.ip(to)}:${port},connect-timeout=5`], { input: payload, timeoutMs: 30_000 });
    await exitedWithin(server, 10_000);
    return io.out();
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

/** A packet capture (tcpdump -w) inside a host, e.g. on the router's underlay interface. */
export interface Capture {
  readonly file: string;
  stop(): Promise<Buffer>;
  /** Number of packets in the capture matching a tcpdump filter (after `stop`). */
  count(filter: string): Promise<number>;
}

export async function startCapture(lab: Lab, host: string, ifname: string, name: string, filter: string[] = []): Promise<Capture> {
  const dir = join(runDir(lab.runId), 'captures');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.pcap`);
  // --immediate-mode -U: hand over and write each packet at once (otherwise packets of the last ring-buffer
  // block, up to a second of traffic, are lost when tcpdump is stopped); -Z root: tcpdump would otherwise drop to a user that cannot write the run dir.
  const child = lab.spawn(host, ['tcpdump', '-i', ifname, '-nn', '-U', '--immediate-mode', '-Z', 'root', '-s', '0', '-w', file, ...filter]);
  const io = collect(child);
  const deadline = Date.now() + 10_000;
  while (!/listening on/.test(io.err())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tcpdump did not start: ${io.err()}`);
    await sleep(20);
  }
  return {
    file,
    async stop() {
      await sleep(200); // let the last packets reach the file
      child.kill('SIGINT');
      await exited(child);
      return readFileSync(file);
    },
    async count(f) {
      const r = await lab.exec(host, ['tcpdump', '-nn', '-r', file, f], { allowFailure: true });
      return r.stdout.split('\n').filter((l) => l.trim().length > 0).length;
    },
  };
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}
