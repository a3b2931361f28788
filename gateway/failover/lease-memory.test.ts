import { leaseStoreConformance } from './lease-store.conformance.js';
import { MemoryLeaseStore } from './lease-memory.js';

leaseStoreConformance('memory (fake clock)', () => {
  let t = 0;
  const store = new MemoryLeaseStore(() => t);
  return { store, sleep: (ms) => { t += ms; return Promise.resolve(); } };
});
