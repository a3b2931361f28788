import { run } from '../../host/index.js';

/**
 * Egress IPs a gateway serves right now: the elements of its kernel fence sets that have not timed out. This is
 * the authoritative "is this egress IP active here" check (an address may linger on the device after the fence
 * expired, e.g. while the agent is stopped, but then the kernel neither answers ARP for it nor sends from it).
 */
export async function eipFenceLive(runId: string, netns?: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of ['live4', 'live6']) {
    const r = await run(['nft', '-j', 'list', 'set', 'inet', `strait-gw-${runId}`, s], { netns, allowFailure: true });
    if (r.code !== 0) continue;
    const j = JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
    for (const item of j.nftables) {
      for (const e of item.set?.elem ?? []) {
        if (typeof e === 'string') out.push(e);
        else {
          const val = (e as { elem?: { val?: string } }).elem?.val;
          if (typeof val === 'string') out.push(val);
        }
      }
    }
  }
  return out.sort();
}
