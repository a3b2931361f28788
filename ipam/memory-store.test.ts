import { MemoryAllocationStore } from './index.js';
import { runAllocationStoreConformance } from '../testing/index.js';

runAllocationStoreConformance('memory', async () => ({ store: new MemoryAllocationStore() }));
