import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ERROR_CATALOG, ERROR_CODES, StraitError } from './index.js';

describe('error catalog', () => {
  it('is documented completely in docs/errors.md', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const missing = ERROR_CODES.filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('uses upper snake case codes and 4xx/5xx statuses', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
    }
  });

  it('takes the HTTP status from the catalog and serialises to the wire shape', () => {
    const e = new StraitError('INVALID_CIDR', 'not a CIDR: "10.0.0.0/33"', { value: '10.0.0.0/33' });
    expect(e.status).toBe(400);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      error: { code: 'INVALID_CIDR', message: 'not a CIDR: "10.0.0.0/33"', details: { value: '10.0.0.0/33' } },
    });
  });
});
