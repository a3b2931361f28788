import { StraitError } from '../../api/index.js';

/**
 * What `lab down` removes: `lab down ID` (as the docs and `lab up` write it), `--run-id ID`
 * (as `lab up` prints it) or `--all`; the same id given both ways is fine, anything else ambiguous is refused.
 */
export function downTarget(positional: string | undefined, o: { runId?: string; all?: boolean }): { runId: string } | 'all' {
  if (positional !== undefined && o.runId !== undefined && positional !== o.runId) {
    throw new StraitError('INVALID_ARGUMENT', `two run ids given (${positional} and --run-id ${o.runId}): give one`);
  }
  const runId = positional ?? o.runId;
  if (o.all && runId !== undefined) throw new StraitError('INVALID_ARGUMENT', 'give either a run id or --all, not both');
  if (o.all) return 'all';
  if (runId === undefined) throw new StraitError('INVALID_ARGUMENT', 'give a run id (lab down ID) or --all');
  return { runId };
}
