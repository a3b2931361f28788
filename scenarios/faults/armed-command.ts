import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * A fault command started ahead of its moment and held at its input: `fire` writes the input and the command acts
 * at once, so the fault's stamp is the moment it takes effect (within the few ms the command needs to read it).
 *
 * Why: link-down and partition ran `ip netns exec NS chrt --rr 5 ip|nft …` at the fault's moment. Only the last
 * program of that chain runs at the runner's priority; the fork and the namespace switch before it run at normal
 * priority (the runner resets its children's scheduling on fork), and on the shared host the link went down
 * 48-174 ms after the stamp (issue #12, probes' last answer before the gap against the stamp, load 3-4). That delay
 * was counted as detection in every verdict-after-stamp figure, and a stamp taken after the command instead put
 * failovers before their fault.
 */
export interface ArmedCommand {
  /** The child's pid (the target program, once armed). */
  readonly pid: number;
  /**
   * Writes `input`, closes the command's stdin and waits for it to exit. Returns when the input was written (the
   * fault's moment) and when the command had returned (the fault had surely taken effect by then).
   */
  fire(input: string): Promise<{ at: number; doneAt: number }>;
  /** Kills the command when the fault is not fired after all. */
  abort(): void;
}

/** The process's argv as the kernel has it now (empty when it is gone). */
function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

/**
 * Starts `[...prefix, ...argv]` with its stdin open and resolves once the process runs `argv` itself: every
 * program of `prefix` (`ip netns exec NS`, `chrt …`) must `exec` the next one, as they do, so the pid stays the
 * same and `/proc/PID/cmdline` turns into `argv` when the target program has started (it then waits on stdin).
 */
export async function armCommand(prefix: readonly string[], argv: readonly string[], timeoutMs = 10_000): Promise<ArmedCommand> {
  const full = [...prefix, ...argv];
  const child = spawn(full[0] ?? 'false', full.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => undefined);
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
  let gone: number | undefined;
  void exited.then((c) => (gone = c));
  const pid = child.pid;
  const want = argv.join('\0');
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (pid !== undefined && cmdline(pid).join('\0') === want) break;
    if (gone !== undefined || pid === undefined) throw new Error(`fault command ${full.join(' ')} exited before it was armed (exit ${gone ?? '?'}): ${stderr.trim()}`);
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`fault command ${full.join(' ')} not running after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return {
    pid,
    async fire(input) {
      const at = Date.now();
      child.stdin.end(input);
      const code = await exited;
      const doneAt = Date.now();
      if (code !== 0) throw new Error(`fault command ${full.join(' ')} failed (exit ${code}): ${stderr.trim()}`);
      return { at, doneAt };
    },
    abort() {
      child.kill('SIGKILL');
    },
  };
}
