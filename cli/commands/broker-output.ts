import { readFileSync } from 'node:fs';
import { BrokerClient, StraitError } from '../../api/index.js';

export interface ClientFlags {
  broker?: string;
  token?: string;
  ca?: string;
  output?: string;
}

/** A client from --broker/--token/--ca or STRAIT_BROKER/STRAIT_TOKEN/STRAIT_CA. */
export function clientFrom(flags: ClientFlags): BrokerClient {
  const baseUrl = flags.broker ?? process.env.STRAIT_BROKER;
  if (!baseUrl) throw new StraitError('INVALID_ARGUMENT', 'no broker given: use --broker URL or set STRAIT_BROKER');
  const token = flags.token ?? process.env.STRAIT_TOKEN;
  const caFile = flags.ca ?? process.env.STRAIT_CA;
  return new BrokerClient({ baseUrl, ...(token ? { token } : {}), ...(caFile ? { caPem: readFileSync(caFile, 'utf8') } : {}) });
}

/** JSON for scripts (`-o json`), a table for people. */
export function print(flags: ClientFlags, value: unknown, columns?: [header: string, get: (row: never) => unknown][]): void {
  if (flags.output === 'json' || !columns) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const rows = Array.isArray(value) ? value : [value];
  const cells = rows.map((r) => columns.map(([, get]) => fmt(get(r as never))));
  const headers = columns.map(([h]) => h);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((s, i) => (i === c.length - 1 ? s : s.padEnd(widths[i]!))).join('  ').trimEnd();
  process.stdout.write(`${[line(headers), ...cells.map(line)].join('\n')}\n`);
}

/** A list answer: whole (its items and resourceVersion) as JSON, its items as a table. */
export function printList(flags: ClientFlags, list: { items: unknown[] }, columns: [header: string, get: (row: never) => unknown][]): void {
  print(flags, flags.output === 'json' ? list : list.items, columns);
}

function fmt(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function age(iso: string | undefined): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
