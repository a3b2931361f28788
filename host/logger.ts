import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger. JSON lines on stderr (stdout belongs to command output and the CNI protocol).
 * Level from STRAIT_LOG_LEVEL (default `info`; tests default to `silent`).
 */
export function createLogger(name: string, level?: string): Logger {
  const lvl = level ?? process.env.STRAIT_LOG_LEVEL ?? (process.env.JEST_WORKER_ID ? 'silent' : 'info');
  return pino({ name, level: lvl }, pino.destination(2));
}
