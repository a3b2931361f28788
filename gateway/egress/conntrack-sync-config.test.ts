import { describe, expect, it } from '@jest/globals';
import { conntrackSyncFiles, CONNTRACK_SYNC_GROUP4, renderConntrackdConfig, validateConntrackSync, type ConntrackSyncConfig } from './conntrack-sync-config.js';

const base: ConntrackSyncConfig = {
  runId: 'hc1', name: 'gw1', dir: '/tmp/strait/hc1', localAddress: '10.50.0.11', dev: 'eth0', peers: ['10.50.0.12'],
  ignoreAddresses: ['10.50.0.11', '10.50.0.12'],
};

/** The lines of one `Name { … }` block (first match), without indentation. */
function block(text: string, name: string): string[] {
  const lines = text.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => l.startsWith(`${name} {`));
  if (start < 0) return [];
  let depth = 0;
  const out: string[] = [];
  for (const l of lines.slice(start)) {
    depth += (l.match(/{/g) ?? []).length - (l.match(/}/g) ?? []).length;
    out.push(l);
    if (depth === 0) break;
  }
  return out;
}

describe('conntrackd config for an egress gateway candidate', () => {
  it('names every file after the run id and the candidate, under the given dir', () => {
    const f = conntrackSyncFiles('/tmp/strait/hc1', 'hc1', 'gw1');
    for (const p of Object.values(f)) expect(p).toMatch(/^\/tmp\/strait\/hc1\/conntrackd-hc1-gw1\.(conf|lock|ctl|log|pid)$/);
    expect(new Set(Object.values(f)).size).toBe(5);
  });

  it('two candidates: FT-FW over unicast UDP to the peer, state injected into the kernel (no commit at takeover)', () => {
    const t = renderConntrackdConfig(base);
    expect(block(t, 'Mode FTFW')).toEqual(expect.arrayContaining(['DisableExternalCache on', 'StartupResync on']));
    const udp = block(t, 'UDP');
    expect(udp).toEqual(expect.arrayContaining(['IPv4_address 10.50.0.11', 'IPv4_Destination_Address 10.50.0.12', 'Port 3780', 'Interface eth0']));
    expect(block(t, 'Multicast')).toEqual([]);
    expect(t).toContain('LockFile /tmp/strait/hc1/conntrackd-hc1-gw1.lock');
    expect(t).toContain('UNIX { Path /tmp/strait/hc1/conntrackd-hc1-gw1.ctl }');
    expect(t).toContain('LogFile /tmp/strait/hc1/conntrackd-hc1-gw1.log');
    // Below the agents' realtime priority: a burst of flow events must never delay a lease renewal.
    expect(t).toContain('Scheduler { Type RR Priority 1 }');
  });

  it('replicates TCP and UDP, not the gateway\'s own traffic (each address once)', () => {
    const t = renderConntrackdConfig({ ...base, ignoreAddresses: ['10.50.0.11', '10.50.0.12', '192.0.2.7', 'fd00::7'] });
    expect(block(t, 'Protocol Accept')).toEqual(['Protocol Accept { TCP UDP }']);
    const ignored = block(t, 'Address Ignore').slice(1, -1);
    expect(ignored).toEqual([
      'IPv4_address 127.0.0.1', 'IPv6_address ::1', 'IPv4_address 10.50.0.11', 'IPv4_address 10.50.0.12',
      'IPv4_address 192.0.2.7', 'IPv6_address fd00::7',
    ]);
  });

  it('three or more candidates: multicast on the LAN device', () => {
    const t = renderConntrackdConfig({ ...base, peers: ['10.50.0.12', '10.50.0.13'], port: 3790 });
    expect(block(t, 'UDP')).toEqual([]);
    expect(block(t, 'Multicast')).toEqual(expect.arrayContaining([`IPv4_address ${CONNTRACK_SYNC_GROUP4}`, 'Group 3790', 'IPv4_interface 10.50.0.11', 'Interface eth0']));
  });

  it('IPv6 sync addresses over unicast', () => {
    const t = renderConntrackdConfig({ ...base, localAddress: 'fd00:50::11', peers: ['fd00:50::12'] });
    expect(block(t, 'UDP')).toEqual(expect.arrayContaining(['IPv6_address fd00:50::11', 'IPv6_Destination_Address fd00:50::12']));
  });

  it.each([
    [{ peers: [] }, /no peer/],
    [{ peers: ['10.50.0.11'] }, /own address/],
    [{ peers: ['fd00::2'] }, /different families/],
    [{ localAddress: 'fd00::1', peers: ['fd00::2', 'fd00::3'] }, /IPv6 .* one peer/],
    [{ localAddress: 'eth0' }, /not an IP address/],
    [{ dev: 'eth0 }' }, /not an interface name/],
    [{ ignoreAddresses: ['10.0.0.1 }'] }, /not an IP address/],
    [{ port: 70000 }, /port 70000/],
    [{ rtPriority: 0 }, /rtPriority 0/],
    [{ dir: '/tmp/a b' }, /must not contain blanks/],
  ] as [Partial<ConntrackSyncConfig>, RegExp][])('refuses bad input %j', (patch, msg) => {
    const c = { ...base, ...patch };
    expect(validateConntrackSync(c).join('; ')).toMatch(msg);
    expect(() => renderConntrackdConfig(c)).toThrow(msg);
  });

  it('a good config has no errors', () => {
    expect(validateConntrackSync(base)).toEqual([]);
  });
});
