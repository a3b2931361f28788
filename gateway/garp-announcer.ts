import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Writable } from 'node:stream';
import { run, withNetns } from '../host/index.js';
import { unrefChild } from './nft-session.js';

/**
 * Gratuitous ARP for IPv4 egress IPs, with the `arping` process started ahead of time: a shell waits on its stdin
 * and `exec`s arping when a line arrives. Taking over an egress IP then costs a pipe write and an exec, not a
 * fork of the (large) agent process at the worst moment (10–40 ms on a loaded host), and the external hosts move
 * their neighbour entry that much sooner. Closing stdin without a line makes `read` fail, so nothing is sent.
 */
export class GarpAnnouncer {
  private readonly ready = new Map<string, ChildProcessByStdio<Writable, null, null>>();

  constructor(private readonly opts: { dev: string; netns?: string }) {}

  private argv(ip: string): string[] {
    return ['arping', '-q', '-U', '-c', '1', '-I', this.opts.dev, ip];
  }

  /** Starts a waiting announcer for each IP that has none (call once the IPs are known, off the critical path). */
  prepare(ips: readonly string[]): void {
    for (const ip of ips) {
      if (ip.includes(':') || this.ready.has(ip)) continue;
      const [cmd, ...args] = withNetns(['sh', '-c', 'read _ && exec "$@"', 'garp', ...this.argv(ip)], this.opts.netns);
      const p = spawn(cmd!, args, { stdio: ['pipe', 'ignore', 'ignore'] });
      unrefChild(p);
      p.on('error', () => undefined);
      p.stdin.on('error', () => undefined);
      p.on('exit', () => {
        if (this.ready.get(ip) === p) this.ready.delete(ip);
      });
      this.ready.set(ip, p);
    }
  }

  /** Announces `ip` now (never waits for arping, which lingers ~1 s), then gets the next announcer ready. */
  announce(ip: string): void {
    const p = this.ready.get(ip);
    this.ready.delete(ip);
    if (p && p.exitCode === null && p.stdin.writable) p.stdin.end('go\n');
    else void run(this.argv(ip), { netns: this.opts.netns, allowFailure: true, timeoutMs: 3000 }).catch(() => undefined);
    this.prepare([ip]);
  }

  /** Ends the waiting announcers without announcing; `prepare` starts new ones. */
  close(): void {
    for (const p of this.ready.values()) p.stdin.end();
    this.ready.clear();
  }
}
