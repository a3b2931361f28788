import { createHash } from 'node:crypto';

/**
 * Node → gateway egress VXLAN: fixed numbers both sides compute alone, so a node can send to any candidate
 * without ARP over the tunnel (the node pins the gateway device's MAC as a permanent neighbour). A standby's
 * tunnel is therefore always ready; failing over is one route replace.
 */
export const EGRESS_VNI = 4794;
export const EGRESS_VXLAN_PORT = 4790;
/** Node-side next hops standing for candidates 1..n on the node's egress VXLAN device (link-local). */
export const EGRESS_NEXTHOP_PREFIX = '169.254.94.';
/** Address on the gateway's egress VXLAN device (only so reverse-path filtering accepts what arrives there). */
export const EGRESS_GATEWAY_DEV_ADDR = '169.254.94.254/32';

/** Locally administered unicast MAC derived from run id + gateway name. */
export function gatewayVxlanMac(runId: string, gateway: string): string {
  const h = createHash('sha256').update(`${runId}/${gateway}`).digest();
  const b = [0x02, 0x5e, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
