import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAllocationStoreConformance } from '../../testing/index.js';
import { FileAllocationStore } from './file-store.js';

runAllocationStoreConformance('file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-ipam-store-'));
  return {
    store: await FileAllocationStore.open(dir),
    reopen: () => FileAllocationStore.open(dir),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
