import type http from 'node:http';

/** An API error answered as a Kubernetes `Status` object. */
export class HttpError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

export const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  406: 'NotAcceptable', 409: 'Conflict', 410: 'Expired', 415: 'UnsupportedMediaType', 422: 'Invalid',
  429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable',
};

export function sendJson(res: http.ServerResponse, code: number, body: unknown, contentType = 'application/json', headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: http.ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain' });
  res.end(text);
}

export function sendStatus(res: http.ServerResponse, e: HttpError): void {
  sendJson(res, e.code, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code,
    ...(e.details ? { details: e.details } : {}),
  });
}

/** One media range of an Accept header, with its parameters (`as=Table;g=meta.k8s.io;v=v1`). */
export interface MediaRange {
  type: string;
  params: Record<string, string>;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  return header.split(',').map((part) => {
    const [type = '', ...rest] = part.split(';').map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of rest) {
      const i = p.indexOf('=');
      if (i > 0) params[p.slice(0, i).trim()] = p.slice(i + 1).trim();
    }
    return { type: type.toLowerCase(), params };
  });
}

/** True when the client asked for `as=<kind>` of group `g` (any version in `versions`), as kubectl does for Tables. */
export function wants(accept: MediaRange[], as: string, group: string, versions: string[]): string | undefined {
  for (const m of accept) {
    if ((m.type === 'application/json' || m.type === '*/*') && m.params.as === as && m.params.g === group && versions.includes(m.params.v ?? '')) return m.params.v;
  }
  return undefined;
}

/** The Kubernetes way of writing a time: RFC 3339, whole seconds. */
export function kubeNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}
