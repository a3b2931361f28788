import { runAllocationStoreConformance } from '../../testing/index.js';
import { MemoryAllocationStore } from './memory-store.js';

runAllocationStoreConformance('memory', async () => ({ store: new MemoryAllocationStore() }));
