import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { buildOpenApi } from './openapi.js';
import { ROUTES } from './routes.js';

describe('OpenAPI document', () => {
  const doc = buildOpenApi() as { openapi: string; paths: Record<string, Record<string, { operationId: string; requestBody?: unknown; responses: Record<string, unknown> }>> };

  it('describes every route, with request bodies where a route validates one', () => {
    for (const r of ROUTES) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op?.operationId).toBe(r.id);
      expect(Boolean(op?.requestBody)).toBe(Boolean(r.body));
      expect(op?.responses[String(r.status)]).toBeDefined();
      expect(op?.responses.default).toBeDefined();
    }
    expect(new Set(ROUTES.map((r) => r.id)).size).toBe(ROUTES.length);
  });

  it('is kept in step with docs/api.md (every path and method appears there)', () => {
    const md = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const needle = `\`${method.toUpperCase()} ${path}\``;
        if (!md.includes(needle)) missing.push(needle);
      }
    }
    expect(missing).toEqual([]);
  });

  it('gives every path parameter the schema its route parses it with (names, ids, addresses)', () => {
    type Param = { name: string; in: string; schema: { type?: string; pattern?: string; maxLength?: number; format?: string } };
    const loose: string[] = [];
    for (const r of ROUTES) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()] as unknown as { parameters?: Param[] };
      for (const p of (op.parameters ?? []).filter((x) => x.in === 'path')) {
        expect(p.schema.type).toBe('string');
        if (p.schema.pattern === undefined && p.schema.maxLength === undefined) loose.push(`${r.method} ${r.path} {${p.name}}`);
      }
    }
    expect(loose).toEqual([]);
  });

  it('gives JSON schemas for the wire types', () => {
    const join = doc.paths['/v1/clusters']?.post?.requestBody as { content: { 'application/json': { schema: { properties: Record<string, unknown>; required: string[] } } } };
    const schema = join.content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['id', 'podCIDRs', 'serviceCIDRs']));
    expect(schema.required).toEqual(expect.arrayContaining(['id', 'podCIDRs']));
  });
});
