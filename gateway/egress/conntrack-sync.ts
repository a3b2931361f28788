import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isAlive, run, sleep, startDaemon, stopPid, type DaemonHandle, type Logger } from '../../host/index.js';
import { conntrackSyncFiles, renderConntrackdConfig, validateConntrackSync, type ConntrackSyncConfig, type ConntrackSyncFiles } from './conntrack-sync-config.js';

/** conntrackd on PATH (sbin included: agents may run with a user's PATH), or undefined when it is not installed. */
export function findConntrackd(path = process.env.PATH ?? ''): string | undefined {
  for (const d of [...path.split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    if (!d) continue;
    const f = join(d, 'conntrackd');
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export interface ConntrackSyncOptions {
  readonly config: ConntrackSyncConfig;
  readonly log: Logger;
  /** Run inside this netns (tests); agents already run inside their gateway's namespace. */
  readonly netns?: string;
  /** The daemon binary (default: found on PATH). */
  readonly binary?: string;
  /** How long start() waits for the daemon to answer on its control socket. */
  readonly readyTimeoutMs?: number;
}

export type ConntrackSyncState = 'off' | 'running' | 'unavailable';

/**
 * Supervises one conntrackd (FT-FW) for an egress gateway candidate: writes its config under the run's state dir,
 * starts it, restarts it if it dies, and on stop ends it and removes every file it had (config, lock, socket, log,
 * pid). Whether it can run is found out by running it: no binary, or a kernel without ctnetlink, leaves the gateway
 * working without sync (flows then break on failover, as before) and says why in the log and in `reason`.
 *
 * The daemon runs in its own process group: a SIGKILLed agent leaves it running, which keeps this gateway's kernel
 * table in step with the new active one until the agent is back. The next agent of the run ends it (its pid file,
 * checked against its command line) and starts a fresh one, which resyncs from the peer at start-up.
 */
export class ConntrackSync {
  private daemon: DaemonHandle | undefined;
  private stopping = false;
  private restarts = 0;
  readonly files: ConntrackSyncFiles;
  state: ConntrackSyncState = 'off';
  reason = '';

  constructor(private readonly o: ConntrackSyncOptions) {
    this.files = conntrackSyncFiles(o.config.dir, o.config.runId, o.config.name);
  }

  /** Starts the daemon; resolves true once it answers, false (logged, files removed) when it cannot run here. */
  async start(): Promise<boolean> {
    const bin = this.o.binary ?? findConntrackd();
    if (!bin) return this.unavailable('conntrackd is not installed (Debian package conntrackd)');
    const errs = validateConntrackSync(this.o.config);
    if (errs.length) return this.unavailable(`cannot configure conntrackd: ${errs.join('; ')}`);
    this.stopping = false;
    const text = renderConntrackdConfig(this.o.config);
    await this.endStale();
    mkdirSync(this.o.config.dir, { recursive: true });
    writeFileSync(this.files.config, text);
    const err = await this.launch(bin);
    if (err) {
      await this.stop();
      return this.unavailable(err);
    }
    this.state = 'running';
    this.reason = '';
    this.o.log.info({ pid: this.daemon?.pid, config: this.files.config, peers: this.o.config.peers }, 'conntrack sync running (conntrackd FT-FW)');
    return true;
  }

  private unavailable(reason: string): false {
    this.state = 'unavailable';
    this.reason = reason;
    this.o.log.warn({ reason }, 'conntrack sync unavailable: egress TCP flows will not survive a failover');
    return false;
  }

  /** A daemon of this run and candidate left behind by an agent that did not stop cleanly. */
  private async endStale(): Promise<void> {
    if (existsSync(this.files.pid)) {
      const pid = Number.parseInt(readFileSync(this.files.pid, 'utf8').trim(), 10);
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        /* gone */
      }
      // Only ever a process whose command line names our own config file.
      if (Number.isInteger(pid) && pid > 0 && cmd.includes(this.files.config)) {
        this.o.log.info({ pid }, 'ending the conntrackd an earlier agent of this run left running');
        await stopPid(pid, 2000);
      }
    }
    this.removeFiles(false);
  }

  /** Starts conntrackd and waits until its control socket answers; returns why not, or undefined. */
  private async launch(bin: string): Promise<string | undefined> {
    const argv = [bin, '-C', this.files.config];
    const d = startDaemon(argv, { logFile: this.files.log, pidFile: this.files.pid, ...(this.o.netns ? { netns: this.o.netns } : {}) });
    this.daemon = d;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void d.exited.then((e) => {
      exit = e;
      if (this.daemon === d) this.onExit(bin, e);
    });
    const deadline = performance.now() + (this.o.readyTimeoutMs ?? 5000);
    while (performance.now() < deadline) {
      if (exit) return `conntrackd exited (${exit.signal ?? `code ${exit.code}`}): ${this.logTail()}`;
      if (existsSync(this.files.socket)) {
        const r = await run([bin, '-C', this.files.config, '-s'], { allowFailure: true, timeoutMs: 3000, ...(this.o.netns ? { netns: this.o.netns } : {}) });
        if (r.code === 0) return undefined;
      }
      await sleep(50);
    }
    return `conntrackd did not answer on ${this.files.socket} within ${this.o.readyTimeoutMs ?? 5000} ms: ${this.logTail()}`;
  }

  private onExit(bin: string, e: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (this.stopping) return;
    this.daemon = undefined;
    this.restarts += 1;
    this.o.log.error({ code: e.code, signal: e.signal, restarts: this.restarts, log: this.logTail() }, 'conntrackd exited: restarting it');
    // Its lock file stays behind after a crash and would stop the new one.
    rmSync(this.files.lock, { force: true });
    const backoff = Math.min(5000, 200 * 2 ** Math.min(this.restarts, 5));
    setTimeout(() => {
      if (this.stopping) return;
      void this.launch(bin).then((err) => {
        if (err) this.o.log.error({ reason: err }, 'conntrackd restart failed');
      });
    }, backoff).unref();
  }

  private logTail(): string {
    try {
      return readFileSync(this.files.log, 'utf8').trim().split('\n').slice(-3).join(' | ');
    } catch {
      return '(no log)';
    }
  }

  /** The daemon's statistics (`conntrackd -s`), for status and tests. */
  async stats(): Promise<string> {
    const bin = this.o.binary ?? findConntrackd() ?? 'conntrackd';
    return (await run([bin, '-C', this.files.config, '-s'], { timeoutMs: 3000, ...(this.o.netns ? { netns: this.o.netns } : {}) })).stdout;
  }

  /** Ends the daemon and removes every file it had. Safe to call twice, and after a failed start. */
  async stop(): Promise<void> {
    this.stopping = true;
    const d = this.daemon;
    this.daemon = undefined;
    if (d && isAlive(d.pid)) await stopPid(d.pid, 2000);
    this.removeFiles(true);
    if (this.state === 'running') this.state = 'off';
  }

  private removeFiles(all: boolean): void {
    const f = this.files;
    for (const p of all ? [f.config, f.lock, f.socket, f.log, f.pid] : [f.lock, f.socket, f.pid]) rmSync(p, { force: true });
  }
}
