import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { isAlive, startDaemon, stopPidFile } from '../host/index.js';
import { StraitError } from '../api/index.js';

export interface EmbeddedRedis {
  socket: string;
  pid: number;
  /** true if this process started it (false: an earlier broker's redis-server was still running, reused). */
  started: boolean;
  stop(): Promise<void>;
}

/**
 * The broker's own `redis-server` on a unix socket under `dir/redis`, with append-only persistence, so a broker
 * restart (even kill -9) loses nothing. A server left running by a previous broker process is reused.
 */
/** fsync `always` by default: an acknowledged lease survives even a crash of Redis itself. */
export async function startEmbeddedRedis(stateDir: string, opts: { appendfsync?: 'always' | 'everysec' } = {}): Promise<EmbeddedRedis> {
  const dir = join(stateDir, 'redis');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = join(dir, 'redis.sock');
  const pidFile = join(dir, 'redis-server.pid');
  const existing = existsSync(pidFile) ? Number.parseInt(readFileSync(pidFile, 'utf8'), 10) : 0;
  let pid = existing;
  let started = false;
  if (!(existing > 0 && isAlive(existing) && (await pingable(socket, 1000)))) {
    const h = startDaemon(
      ['redis-server', '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--appendonly', 'yes',
        '--appendfsync', opts.appendfsync ?? 'always', '--save', '', '--daemonize', 'no'],
      { logFile: join(dir, 'redis-server.log'), pidFile },
    );
    pid = h.pid;
    started = true;
    if (!(await pingable(socket, 15_000))) {
      throw new StraitError('UNAVAILABLE', `the embedded redis-server did not come up (see ${join(dir, 'redis-server.log')})`);
    }
  }
  return { socket, pid, started, stop: () => stopPidFile(pidFile, 5000) };
}

async function pingable(socket: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
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
