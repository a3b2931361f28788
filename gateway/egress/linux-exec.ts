import { StraitError } from '../../api/index.js';
import { execWith, type ExecResult } from '../../host/index.js';

/** Where the Linux datapath runs: inside `netns` when given (tests, labs), else in the current namespace. */
export interface LinuxDatapathOptions {
  readonly runId: string;
  readonly netns?: string;
}

const gatewayExec = execWith(
  (e, o) => new StraitError('GATEWAY_DATAPATH_FAILED', e.message, { argv: e.argv.join(' '), stderr: e.result.stderr.trim(), input: typeof o.input === 'string' ? o.input.slice(0, 2000) : undefined }),
  { timeoutMs: 10_000 },
);

/** Runs a datapath command where `o` says; failures become GATEWAY_DATAPATH_FAILED with the output and the input. */
export function exec(argv: string[], o: LinuxDatapathOptions, input?: string, allowFailure = false): Promise<ExecResult> {
  return gatewayExec(argv, { netns: o.netns, input, allowFailure });
}

/** nft set literal. */
export const set = (items: readonly string[]): string => `{ ${items.join(', ')} }`;
