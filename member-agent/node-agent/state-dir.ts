import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';

/** What a failed file-system call means for an operator, in words (the errno alone is not a sentence). */
function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EEXIST':
    case 'ENOTDIR':
      return 'a file that is not a directory is in the way';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Creates the node agent's durable state directory and proves it can be written, before anything else starts.
 * Every address the agent hands out is on disk here before the plugin sees it, so a directory it cannot write must
 * stop the start with one clear line (it used to end in `error: EEXIST: file already exists, mkdir …`, no code).
 */
export function openStateDir(dir: string): void {
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (e) {
    throw new StraitError('AGENT_STATE_DIR_UNUSABLE', `cannot use --state-dir ${dir}: ${fsReason(e)}`, { stateDir: dir }, { cause: e });
  }
}
