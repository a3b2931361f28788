import { ERROR_CATALOG, type ErrorCode } from './error-catalog.js';

/**
 * The one error type Strait raises for anything a user or a peer did wrong (bad input, conflicts, auth)
 * and for known operational failures. Its `code` is stable and documented in docs/errors.md;
 * the HTTP status comes from the catalog so every edge maps it the same way.
 */
export class StraitError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message ?? ERROR_CATALOG[code].message, options);
    this.name = 'StraitError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.details = details ? Object.freeze({ ...details }) : undefined;
  }

  /** The wire shape every HTTP answer and CLI `-o json` error uses. */
  toJSON(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: { ...this.details } } : {}) } };
  }
}

export function isStraitError(e: unknown, code?: ErrorCode): e is StraitError {
  return e instanceof StraitError && (code === undefined || e.code === code);
}
