// Entry of the `strait-ipam` CNI plugin (bin/strait-ipam). Kept to node:net + JSON: start-up time is most of a
// CNI call.
import { runPlugin } from './plugin.js';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const out = await runPlugin(process.env, Buffer.concat(chunks).toString('utf8'));
process.stdout.write(out.stdout);
process.exitCode = out.exitCode;
