import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real `redis-server` for one test file: unix socket in a private temp dir, no TCP port, no persistence
 * (unless `appendonly` is asked for, to test restarts). Never a mock.
 */
export interface TestRedis {
  socket: string;
  dir: string;
  pid: number;
  /** kill -9 (simulates a crash); `restart()` brings it back on the same socket (and the same AOF if enabled). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestRedis(opts: { appendonly?: boolean } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'strait-redis-'));
  const socket = join(dir, 'redis.sock');
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--save', '',
      '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--loglevel', 'notice'];
    const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      const onData = (b: Buffer): void => {
        out += b.toString();
        if (/ready to accept connections/i.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      c.stdout?.on('data', onData);
      c.stderr?.on('data', onData);
      c.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`redis-server could not be started (is the Debian package redis-server installed?): ${e.message}`));
      });
      c.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${out}`));
      });
    });
    // Keep draining the pipes so the server never blocks on a full pipe.
    c.stdout?.resume();
    c.stderr?.resume();
  };

  const waitExit = (c: ChildProcess | undefined): Promise<void> =>
    new Promise((resolve) => {
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
    });

  await launch();
  return {
    socket,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    async kill() {
      const c = child;
      c?.kill('SIGKILL');
      await waitExit(c);
    },
    async restart() {
      await launch();
    },
    async stop() {
      const c = child;
      c?.kill('SIGKILL');
      await waitExit(c);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
