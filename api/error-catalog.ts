/**
 * The one catalog of Strait's error codes. Codes are stable: never rename or reuse one, only add.
 * Each entry gives the HTTP status the broker answers with and a default message; `docs/errors.md`
 * must list every code (a test checks it).
 *
 * Sections are kept apart by area so that additions from different areas do not collide.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export const ERROR_CATALOG = {
  // ---------------------------------------------------------------- general
  INTERNAL: { status: 500, message: 'internal error' },
  INVALID_ARGUMENT: { status: 400, message: 'invalid argument' },
  NOT_FOUND: { status: 404, message: 'not found' },
  UNAVAILABLE: { status: 503, message: 'a dependency is unavailable' },

  // ---------------------------------------------------------------- ipam
  INVALID_CIDR: { status: 400, message: 'invalid CIDR' },
  INVALID_IP: { status: 400, message: 'invalid IP address' },
  INVALID_IP_RANGE: { status: 400, message: 'invalid IP range' },

  // ---------------------------------------------------------------- broker

  // ---------------------------------------------------------------- tunnel

  // ---------------------------------------------------------------- lab and scenarios

  // ---------------------------------------------------------------- gateway and egress

  // ---------------------------------------------------------------- kubernetes side
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];
