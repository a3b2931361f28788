// Child process for the kill -9 test: allocates (and now and then releases) as fast as it can on a file store,
// printing each answer only after the engine returned it. The parent kills it with SIGKILL mid-way.
import { IpamEngine } from '../../ipam-engine.js';
import { FileAllocationStore } from '../file-store.js';

const [dir] = process.argv.slice(2);
const config = { pools: [{ name: 'p1', subnet: '10.88.0.0/22', gateway: '10.88.0.1', default: true }] };
const engine = new IpamEngine({ store: await FileAllocationStore.open(dir), config });
await engine.sync();
let next = 0;
const worker = async () => {
  for (;;) {
    const i = next++;
    const owner = { containerId: `crash-${i}`, ifName: 'eth0' };
    const r = await engine.allocate(owner, { node: { name: 'n1' } });
    process.stdout.write(`ok ${i} ${r.ips[0].address}\n`);
    if (i % 5 === 0) {
      await engine.release(owner);
      process.stdout.write(`rel ${i}\n`);
    }
  }
};
await Promise.all(Array.from({ length: 8 }, worker));
