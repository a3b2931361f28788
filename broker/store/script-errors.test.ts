import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { ERROR_CATALOG, StraitError } from '../../api/index.js';
import { SCRIPT_ERRORS, SCRIPT_OUTCOMES, scriptError, type Reply } from './script-errors.js';

const LUA = new URL('./lua/', import.meta.url);

/** Every reply status any script (or include) can return: the first string of each `return {'STATUS', …}`. */
function luaStatuses(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const files = [...readdirSync(LUA).filter((f) => f.endsWith('.lua')), ...readdirSync(new URL('includes/', LUA)).map((f) => `includes/${f}`)];
  for (const f of files) {
    for (const m of readFileSync(new URL(f, LUA), 'utf8').matchAll(/return\s*\{\s*'([A-Z]+)'/g)) out.set(m[1]!, [...(out.get(m[1]!) ?? []), f]);
  }
  return out;
}

describe('script reply table', () => {
  const statuses = luaStatuses();

  it('finds the statuses of the scripts (the grep works)', () => {
    // (a floor that catches a broken grep; the owner GC's per-lease verdicts LIVE/WAIT/UNKNOWN/GONE went with its holder index)
    expect(statuses.size).toBeGreaterThanOrEqual(15);
    expect([...statuses.keys()]).toEqual(expect.arrayContaining(['OK', 'NOTFOUND', 'STALE', 'EXHAUSTED', 'IDEMMISMATCH', 'FORBIDDEN']));
  });

  it('has an entry (error or outcome) for every status a .lua file can return', () => {
    const missing = [...statuses.keys()].filter((s) => !Object.hasOwn(SCRIPT_ERRORS, s) && !SCRIPT_OUTCOMES.has(s));
    expect(missing).toEqual([]);
  });

  it('has no entry that no script returns, and no status both an error and an outcome', () => {
    expect(Object.keys(SCRIPT_ERRORS).filter((s) => !statuses.has(s))).toEqual([]);
    expect([...SCRIPT_OUTCOMES].filter((s) => !statuses.has(s))).toEqual([]);
    expect(Object.keys(SCRIPT_ERRORS).filter((s) => SCRIPT_OUTCOMES.has(s))).toEqual([]);
  });

  it.each(Object.entries(SCRIPT_ERRORS))('%s builds a catalog error with its code, single and batch', (status, entry) => {
    expect(Object.hasOwn(ERROR_CATALOG, entry.code)).toBe(true);
    const r: Reply = [status, 'x', 'y'];
    // What each call site passes: the object, and for leases, joins, ranges and refs what the reply leaves out.
    const base = { pool: 'p', cluster: 'c', owner: 'o', subnet: 's', cidr: '10.0.0.0/8', ref: { kind: 'Cluster', name: 'c' }, idemKey: 'admin/k' };
    for (const ctx of [{ ...base, kind: 'IPPool', name: 'p' }, { ...base, kind: 'block', name: 'p', requested: 2 }, { ...base, kind: 'address', name: 'p' }, { ...base, kind: 'Cluster', name: 'c', cidrKey: 'y' }]) {
      const e = scriptError(r, ctx);
      expect(e).toBeInstanceOf(StraitError);
      expect(e.code).toBe(entry.code);
      expect(e.message).not.toMatch(/^unexpected store answer/);
    }
  });

  it('answers INTERNAL for a status no script returns', () => {
    expect(scriptError(['WHAT'], { kind: 'IPPool', name: 'p' }).code).toBe('INTERNAL');
  });
});
