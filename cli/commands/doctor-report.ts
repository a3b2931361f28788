import { TUNNEL_COMMANDS, TUNNEL_TYPES, type TunnelCapabilities } from '../../tunnel/index.js';

// `strait doctor`'s report, loaded by its action on first use (it needs the tunnel room).

function mark(ok: boolean): string {
  return ok ? 'yes' : 'NO ';
}

/** Human-readable report: kernel features, commands, and the implementation each tunnel type will use. */
export function formatDoctorReport(c: TunnelCapabilities): string {
  const lines: string[] = [];
  lines.push(`kernel ${c.kernelRelease}${c.root ? '' : '  (not root: kernel link types not probed; run as root for a full report)'}`);
  lines.push('');
  lines.push('kernel features (tried in a scratch namespace):');
  const k = c.kernel;
  const fixes: Record<string, string> = {
    vxlan: 'CONFIG_VXLAN',
    geneve: 'CONFIG_GENEVE',
    wireguard: 'CONFIG_WIREGUARD',
    esp: 'CONFIG_XFRM, CONFIG_INET_ESP, AES-GCM',
    tun: 'CONFIG_TUN (/dev/net/tun)',
  };
  for (const [name, ok] of Object.entries(k)) lines.push(`  ${mark(ok)} ${name.padEnd(10)}${ok ? '' : `  (needs ${fixes[name] ?? name})`}`);
  lines.push(`  ${mark(c.libipsecPlugin)} strongSwan kernel-libipsec plugin`);
  lines.push('');
  lines.push('commands:');
  for (const [cmd, pkg] of Object.entries(TUNNEL_COMMANDS)) {
    const at = c.commands[cmd];
    lines.push(`  ${mark(at !== undefined)} ${cmd.padEnd(26)} ${at ? `${at}  (${pkg})` : `missing: apt-get install ${pkg.split(' ')[0]}`}`);
  }
  lines.push('');
  lines.push('tunnel types:');
  for (const t of TUNNEL_TYPES) {
    const i = c.implementations[t];
    lines.push(`  ${t.padEnd(10)} ${i.available ? i.implementation : 'UNAVAILABLE'}: ${i.reason}`);
    if (i.fix) lines.push(`  ${''.padEnd(10)} ${i.available ? 'hint' : 'fix'}: ${i.fix}`);
  }
  return lines.join('\n');
}
