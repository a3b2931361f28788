import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { isAlive, startDaemon, stopPidFile, type Logger } from '../host/index.js';
import { StraitError } from '../api/index.js';

export interface EmbeddedRedis {
  socket: string;
  /** the current redis-server's pid (changes when it is restarted) */
  readonly pid: number;
  /** true if this process started it (false: an earlier broker's redis-server was still running, reused). */
  started: boolean;
  /** how often it was restarted after dying */
  readonly restarts: number;
  stop(): Promise<void>;
}

export interface EmbeddedRedisOptions {
  /** fsync `always` by default: an acknowledged lease survives even a crash of Redis itself. */
  appendfsync?: 'always' | 'everysec';
  logger?: Logger;
  /** how often to look whether it still runs (default 250 ms) */
  checkMs?: number;
  /** first and longest pause between restart attempts (default 200 ms, doubling to 5 s) */
  restartMinMs?: number;
  restartMaxMs?: number;
}

/**
 * The broker's own `redis-server` on a unix socket under `dir/redis`, with append-only persistence, so a broker
 * restart (even kill -9) loses nothing. A server left running by a previous broker process is reused. If it dies
 * while the broker runs, it is started again (with backoff) from its append-only file; the broker's connections
 * reconnect on their own, so `/readyz` and writes come back without a broker restart.
 */
export async function startEmbeddedRedis(stateDir: string, opts: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  const dir = join(stateDir, 'redis');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = join(dir, 'redis.sock');
  const pidFile = join(dir, 'redis-server.pid');
  const logFile = join(dir, 'redis-server.log');
  const existing = existsSync(pidFile) ? Number.parseInt(readFileSync(pidFile, 'utf8'), 10) : 0;
  const launch = async (): Promise<number> => {
    const h = startDaemon(
      ['redis-server', '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--appendonly', 'yes',
        '--appendfsync', opts.appendfsync ?? 'always', '--save', '', '--daemonize', 'no'],
      { logFile, pidFile },
    );
    if (!(await pingable(socket, 15_000, h.pid))) {
      if (isAlive(h.pid)) await stopPidFile(pidFile, 2000);
      throw new StraitError('UNAVAILABLE', `the embedded redis-server did not come up (see ${logFile})`);
    }
    return h.pid;
  };
  let pid = existing;
  let started = false;
  if (!(existing > 0 && isAlive(existing) && (await pingable(socket, 1000)))) {
    pid = await launch();
    started = true;
  }

  let stopping = false;
  let restarting: Promise<void> | undefined;
  let restarts = 0;
  let failures = 0;
  const minMs = opts.restartMinMs ?? 200;
  const maxMs = opts.restartMaxMs ?? 5000;
  const restart = async (): Promise<void> => {
    try {
      opts.logger?.error({ pid, log: logFile }, 'embedded redis-server died; restarting it');
      while (!stopping) {
        await new Promise((r) => setTimeout(r, Math.min(maxMs, minMs * 2 ** failures)));
        if (stopping) return;
        try {
          pid = await launch();
          restarts++;
          failures = 0;
          opts.logger?.warn({ pid, restarts }, 'embedded redis-server restarted');
          return;
        } catch (err) {
          failures++;
          opts.logger?.error({ err, attempt: failures }, 'embedded redis-server restart failed; trying again');
        }
      }
    } finally {
      restarting = undefined;
    }
  };
  const timer = setInterval(() => {
    if (stopping || restarting || isAlive(pid)) return;
    restarting = restart();
  }, opts.checkMs ?? 250);
  timer.unref();

  return {
    socket,
    get pid() {
      return pid;
    },
    started,
    get restarts() {
      return restarts;
    },
    async stop() {
      stopping = true;
      clearInterval(timer);
      // A restart under way finishes first, so the server it starts is stopped too.
      await restarting;
      await stopPidFile(pidFile, 5000);
    },
  };
}

async function pingable(socket: string, withinMs: number, pid?: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (pid !== undefined && !isAlive(pid)) return false;
    if (existsSync(socket)) {
      const r = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined);
      try {
        await r.connect();
        if ((await r.ping()) === 'PONG') return true;
      } catch {
        /* loading or not yet listening */
      } finally {
        r.disconnect();
      }
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  return false;
}
