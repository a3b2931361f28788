import { FenceSetReader, gatewayFenceSet } from './fence-reader.js';

/**
 * Egress IPs a gateway serves right now: the elements of its kernel fence sets that have not timed out. This is
 * the authoritative "is this egress IP active here" check (an address may linger on the device after the fence
 * expired, e.g. while the agent is stopped, but then the kernel neither answers ARP for it nor sends from it).
 * A set that cannot be read (no agent, no table) counts as serving nothing. Read with the one fence reader.
 */
export async function eipFenceLive(runId: string, netns?: string): Promise<string[]> {
  // A check, not a sampler: patient enough for a loaded host (the sampler's reader gives up after 1 s).
  const reader = new FenceSetReader(netns, gatewayFenceSet(runId, 4), 10_000);
  try {
    const looks = [await reader.look(gatewayFenceSet(runId, 4)), await reader.look(gatewayFenceSet(runId, 6))];
    return looks.flatMap((l) => (l?.elements ?? []).map((e) => e.ip)).sort();
  } finally {
    reader.close();
  }
}
