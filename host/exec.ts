import { execFile, spawn } from 'node:child_process';

export interface ExecOptions {
  /** Run inside this network namespace (via `ip netns exec`). */
  netns?: string;
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Do not throw on a non-zero exit; the caller inspects `code`. */
  allowFailure?: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    super(`command failed (exit ${result.code}): ${argv.join(' ')}\n${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'ExecError';
  }
}

/** argv with the `ip netns exec NS` prefix applied when a namespace is given. */
export function withNetns(argv: readonly string[], netns?: string): string[] {
  return netns ? ['ip', 'netns', 'exec', netns, ...argv] : [...argv];
}

/**
 * Runs a command without a shell (no quoting bugs, no injection) and collects its output.
 * Daemons must not be started with this: they would inherit the pipes and hang it (see `startDaemon`).
 */
export function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const full = withNetns(argv, opts.netns);
  const [file, ...args] = full;
  if (!file) throw new Error('run: empty argv');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : 1) : 0;
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new ExecError(full, { code: 127, stdout: '', stderr: `${file}: command not found` }));
          return;
        }
        const result = { code, stdout, stderr };
        if (code !== 0 && !opts.allowFailure) reject(new ExecError(full, result));
        else resolve(result);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/**
 * `run` with a room's defaults whose failures become the room's own error (a datapath's catalog code, say). The one
 * exec wrapper: the tunnel drivers and the gateway datapath differ only in their defaults and the error they raise.
 */
export function execWith(
  toError: (e: ExecError, opts: ExecOptions) => Error,
  defaults: ExecOptions = {},
): (argv: readonly string[], opts?: ExecOptions) => Promise<ExecResult> {
  return async (argv, opts = {}) => {
    const o: ExecOptions = { ...defaults };
    for (const [k, v] of Object.entries(opts)) if (v !== undefined) (o as Record<string, unknown>)[k] = v;
    try {
      return await run(argv, o);
    } catch (e) {
      if (e instanceof ExecError) throw toError(e, o);
      throw e;
    }
  };
}

/** Runs a command and returns its stdout; throws ExecError on failure. */
export async function sh(argv: readonly string[], opts: ExecOptions = {}): Promise<string> {
  return (await run(argv, opts)).stdout;
}

/** True when the command exists on PATH (or as an absolute path). */
export async function hasCommand(name: string): Promise<boolean> {
  const r = await run(['sh', '-c', 'command -v "$0"', name], { allowFailure: true });
  return r.code === 0;
}

export { spawn };
