import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Writable } from 'node:stream';
import { run, withNetns } from '../../host/index.js';
import { unrefChild } from './nft-session.js';

/**
 * Gratuitous ARP for IPv4 egress IPs, with the `arping` process started ahead of time: a shell waits on its stdin
 * and `exec`s arping when a line arrives. Taking over an egress IP then costs a pipe write and an exec, not a
 * fork of the (large) agent process at the worst moment (10–40 ms on a loaded host), and the external hosts move
 * their neighbour entry that much sooner. Closing stdin without a line makes `read` fail, so nothing is sent.
 */
/**
 * How long after an announcement the next announcer is started. Starting it is a fork of the agent, which blocks
 * the event loop for 2-10 ms (libuv waits for the exec): right after a takeover that delayed the first lease
 * renewal and the nodes' next probe answers. Nothing needs a second announcement that soon.
 */
export const GARP_REARM_DELAY_MS = 1000;

export class GarpAnnouncer {
  private readonly ready = new Map<string, ChildProcessByStdio<Writable, null, null>>();
  private readonly rearm = new Set<NodeJS.Timeout>();

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
    const t = setTimeout(() => {
      this.rearm.delete(t);
      this.prepare([ip]);
    }, GARP_REARM_DELAY_MS);
    t.unref();
    this.rearm.add(t);
  }

  /** Ends the waiting announcers without announcing; `prepare` starts new ones. */
  close(): void {
    for (const t of this.rearm) clearTimeout(t);
    this.rearm.clear();
    for (const p of this.ready.values()) p.stdin.end();
    this.ready.clear();
  }
}
