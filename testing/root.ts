import { describe } from '@jest/globals';
import { isRoot } from '../host/index.js';

/**
 * `describe` for suites that need root (network namespaces, nftables, daemons). CI runs as root, so there
 * they always run; elsewhere they are skipped with the reason in the name instead of failing obscurely.
 */
export const describeRoot: typeof describe = (isRoot() ? describe : describe.skip) as typeof describe;
