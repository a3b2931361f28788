import type { Lab } from '../lab/lab.js';
import type { Cluster } from '../topology/model.js';
import type { WireguardMesh } from './wireguard-mesh.js';

/** fwmarks / routing tables for "reply through the tunnel the flow came in on" (one per remote candidate). */
const RET_MARK = 0x5350;

/**
 * Gateway routes over the lab-built WireGuard pairs (`tunnels: mesh`). Towards the other cluster: via the pair to
 * its first candidate. Replies to flows that came in through a tunnel go back through the same tunnel (conntrack
 * mark → fwmark → per-pair table), so when the other cluster fails over, its flows' replies follow them at once.
 * Idempotent: `replace` routes, the nft table is re-declared, a rule that exists already is left.
 */
export async function gatewayTunnelRoutes(lab: Lab, mesh: WireguardMesh, g: string, other: Cluster): Promise<void> {
  const pairs = other.gateways.map((rg, i) => ({ rg, i, dev: mesh.devOf(g, rg)!, nh: mesh.peerIp(g, rg)! }));
  await lab.exec(g, ['ip', 'route', 'replace', other.podCidr, 'via', pairs[0]!.nh, 'dev', pairs[0]!.dev]);
  const nft = [`table ip st_${lab.runId}_ret {`, '  chain pre { type filter hook prerouting priority mangle; policy accept;'];
  for (const p of pairs) nft.push(`    iifname "${p.dev}" ct direction original ct mark set ${RET_MARK + p.i}`);
  nft.push('    ct direction reply ct mark != 0 meta mark set ct mark', '  }', '}', '');
  await lab.exec(g, ['nft', '-f', '-'], { input: nft.join('\n') });
  for (const p of pairs) {
    await lab.exec(g, ['ip', 'route', 'replace', other.podCidr, 'via', p.nh, 'dev', p.dev, 'table', String(RET_MARK + p.i)]);
    await lab.exec(g, ['ip', 'rule', 'add', 'fwmark', String(RET_MARK + p.i), 'lookup', String(RET_MARK + p.i), 'pref', String(100 + p.i)], { allowFailure: true });
  }
}
