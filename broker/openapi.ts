import { z } from 'zod';
import { ERROR_CODES, ErrorBody, WatchEvent } from '../api/index.js';
import { ROUTES } from './routes.js';

function schema(s: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(s, { target: 'openapi-3.0', io, unrepresentable: 'any' });
}

/** The OpenAPI 3.0 document of the v1 API, generated from the route table and the zod wire schemas. */
export function buildOpenApi(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorResponse = { description: 'Error (see docs/errors.md)', content: { 'application/json': { schema: schema(ErrorBody, 'output') } } };
  for (const r of ROUTES) {
    // Each path parameter has the schema the route parses it with (routes.ts refuses a route without one).
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => {
      const p = r.params?.[m[1]!];
      return { name: m[1], in: 'path', required: true, schema: p ? schema(p, 'input') : { type: 'string' } };
    });
    for (const [name, description] of Object.entries(r.query ?? {})) params.push({ name, in: 'query', required: false, schema: { type: 'string' }, description } as never);
    if (['DELETE', 'PATCH', 'PUT'].includes(r.method) && r.id !== 'heartbeat' && r.method === 'DELETE') {
      params.push({ name: 'resourceVersion', in: 'query', required: false, schema: { type: 'string' }, description: 'refuse with 409 unless the object is at this resourceVersion' } as never);
    }
    const ok: Record<string, unknown> = { description: r.summary };
    if (r.response) ok.content = { 'application/json': { schema: schema(r.response, 'output') } };
    if (r.id === 'watch') ok.content = { 'application/x-ndjson': { schema: schema(WatchEvent, 'output') } };
    if (r.id === 'caCert') ok.content = { 'application/x-pem-file': { schema: { type: 'string' } } };
    if (r.id === 'metrics') ok.content = { 'text/plain': { schema: { type: 'string' } } };
    if (r.id === 'openapi') ok.content = { 'application/json': { schema: { type: 'object' } } };
    const op: Record<string, unknown> = {
      operationId: r.id,
      summary: r.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema(r.body, 'input') } } } } : {}),
      responses: { [String(r.status)]: ok, default: errorResponse },
      security: r.auth === 'none' ? [] : [{ bearer: [] }],
      'x-strait-auth': r.auth,
    };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Strait broker API',
      version: 'v1',
      description: `Every error answer is {"error":{"code","message","details"}} with one of: ${ERROR_CODES.join(', ')}.`,
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'admin token, join token (POST /v1/clusters only) or cluster credential' } } },
    paths,
  };
}
