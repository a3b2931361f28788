import { isStraitError } from '../api/index.js';

/**
 * How the CLI shows a failure: `error CODE: message` for catalogued errors (with details as `key: value`
 * lines), the plain message otherwise. Exit code 1 for user errors, 2 for internal ones.
 */
export function reportError(e: unknown, json = false): number {
  if (isStraitError(e)) {
    if (json) process.stderr.write(`${JSON.stringify(e)}\n`);
    else {
      process.stderr.write(`error ${e.code}: ${e.message}\n`);
      for (const [k, v] of Object.entries(e.details ?? {})) process.stderr.write(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
    }
    return e.status >= 500 ? 2 : 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(json ? `${JSON.stringify({ error: { code: 'INTERNAL', message: msg } })}\n` : `error: ${msg}\n`);
  return 2;
}
