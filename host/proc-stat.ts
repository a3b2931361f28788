import { readFileSync } from 'node:fs';

/**
 * The fields of a `/proc/<pid>/stat` (or `/proc/<pid>/task/<tid>/stat`) after the command name, which may itself
 * hold spaces and parentheses: index 0 is field 3 of proc(5) (the state), so field N is at index N − 3.
 */
export function procStatFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).trimEnd().split(' ');
}
