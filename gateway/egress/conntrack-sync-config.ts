import { join } from 'node:path';

/**
 * conntrackd (FT-FW mode) configuration for one egress gateway candidate, as pure logic. Every candidate of an
 * EgressGateway runs one daemon; each sends the state changes of its own kernel conntrack table to its peers and
 * injects what it receives straight into its own kernel table (`DisableExternalCache`), so a standby already holds
 * the NAT mapping of every replicated flow when it takes the egress IP over: nothing to commit on the failover path.
 */
export interface ConntrackSyncConfig {
  /** Run id: part of every file name, so parallel runs and leftovers can be told apart. */
  readonly runId: string;
  /** This candidate's name. */
  readonly name: string;
  /** Directory for the config, lock, control socket and log (the run's state dir). */
  readonly dir: string;
  /** This candidate's sync address (its LAN address) and the device that holds it. */
  readonly localAddress: string;
  readonly dev: string;
  /** The other candidates' sync addresses. One peer: UDP unicast; more: multicast on `dev`. */
  readonly peers: readonly string[];
  /** Local addresses whose own traffic is not worth replicating (probes, VXLAN, lease store, tunnels). */
  readonly ignoreAddresses: readonly string[];
  readonly port?: number;
  /** SCHED_RR priority of the daemon: below the agents' (their renewals must never wait for it). */
  readonly rtPriority?: number;
}

/** UDP port of the sync channel (conntrackd's customary 3780). */
export const CONNTRACK_SYNC_PORT = 3780;
/** Multicast group for three or more candidates (one LAN per cluster: a fixed group is enough). */
export const CONNTRACK_SYNC_GROUP4 = '225.0.0.50';

export interface ConntrackSyncFiles {
  readonly config: string;
  readonly lock: string;
  readonly socket: string;
  readonly log: string;
  readonly pid: string;
}

/** Files of one candidate's daemon; each carries the run id and the candidate name. */
export function conntrackSyncFiles(dir: string, runId: string, name: string): ConntrackSyncFiles {
  const base = join(dir, `conntrackd-${runId}-${name}`);
  return { config: `${base}.conf`, lock: `${base}.lock`, socket: `${base}.ctl`, log: `${base}.log`, pid: `${base}.pid` };
}

const isV6 = (a: string): boolean => a.includes(':');

/** Config errors, empty when the config can be rendered (bad input changes nothing: check before writing). */
export function validateConntrackSync(c: ConntrackSyncConfig): string[] {
  const errs: string[] = [];
  const ip = /^[0-9a-fA-F.:]+$/;
  if (!ip.test(c.localAddress)) errs.push(`sync address "${c.localAddress}" is not an IP address`);
  if (!/^[A-Za-z0-9._-]{1,15}$/.test(c.dev)) errs.push(`device "${c.dev}" is not an interface name`);
  if (c.peers.length === 0) errs.push('no peer to replicate to');
  // Multicast (three or more candidates) is rendered for IPv4 only; IPv6 LANs sync one peer over unicast UDP.
  if (c.peers.length > 1 && isV6(c.localAddress)) errs.push('IPv6 sync addresses support one peer (two candidates) only');
  for (const p of c.peers) {
    if (!ip.test(p)) errs.push(`peer "${p}" is not an IP address`);
    else if (isV6(p) !== isV6(c.localAddress)) errs.push(`peer ${p} and sync address ${c.localAddress} are of different families`);
    if (p === c.localAddress) errs.push(`peer ${p} is this candidate's own address`);
  }
  for (const a of c.ignoreAddresses) if (!ip.test(a)) errs.push(`ignored address "${a}" is not an IP address`);
  const port = c.port ?? CONNTRACK_SYNC_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) errs.push(`port ${port}: expected 1-65535`);
  const prio = c.rtPriority ?? 1;
  if (!Number.isInteger(prio) || prio < 1 || prio > 99) errs.push(`rtPriority ${prio}: expected 1-99`);
  if (/\s|[{}#"]/.test(c.dir)) errs.push(`directory "${c.dir}" must not contain blanks, braces, quotes or #`);
  return errs;
}

/** The channel section: unicast to the one peer, or multicast on the LAN device for several. */
function channel(c: ConntrackSyncConfig, port: number): string[] {
  const v6 = isV6(c.localAddress);
  const common = [`    Interface ${c.dev}`, '    SndSocketBuffer 1249280', '    RcvSocketBuffer 1249280', '    Checksum on'];
  if (c.peers.length === 1) {
    return [
      '  UDP {',
      `    ${v6 ? 'IPv6_address' : 'IPv4_address'} ${c.localAddress}`,
      `    ${v6 ? 'IPv6_Destination_Address' : 'IPv4_Destination_Address'} ${c.peers[0] ?? ''}`,
      `    Port ${port}`,
      ...common,
      '  }',
    ];
  }
  return [
    '  Multicast {',
    `    IPv4_address ${CONNTRACK_SYNC_GROUP4}`,
    `    Group ${port}`,
    `    IPv4_interface ${c.localAddress}`,
    ...common,
    '  }',
  ];
}

/**
 * conntrackd.conf text. Replicated: TCP and UDP flows that pass through the gateway (pod → outside, SNATed to an
 * egress IP), with their NAT mapping; not the gateway's own traffic (addresses in `ignoreAddresses`, loopback).
 */
export function renderConntrackdConfig(c: ConntrackSyncConfig): string {
  const errs = validateConntrackSync(c);
  if (errs.length) throw new Error(`conntrack sync config: ${errs.join('; ')}`);
  const f = conntrackSyncFiles(c.dir, c.runId, c.name);
  const port = c.port ?? CONNTRACK_SYNC_PORT;
  const ignore = [...new Set(['127.0.0.1', '::1', c.localAddress, ...c.ignoreAddresses])];
  return [
    `# conntrackd for strait gateway ${c.name}, run ${c.runId} (written by the gateway agent; removed when it stops)`,
    'Sync {',
    '  Mode FTFW {',
    // Received state goes straight into this gateway's kernel table: a takeover needs no commit (`conntrackd -c`),
    // so no reply can reach the new holder of the egress IP before its flow's NAT mapping does.
    '    DisableExternalCache on',
    // A candidate (re)started while its peer ran gets the flows it missed.
    '    StartupResync on',
    '  }',
    ...channel(c, port),
    '}',
    'General {',
    '  Systemd off',
    '  HashSize 16384',
    '  HashLimit 131072',
    `  LogFile ${f.log}`,
    '  Syslog off',
    `  LockFile ${f.lock}`,
    `  UNIX { Path ${f.socket} }`,
    '  NetlinkBufferSize 2097152',
    '  NetlinkBufferSizeMaxGrowth 8388608',
    '  NetlinkEventsReliable on',
    '  NetlinkOverrunResync off',
    `  Scheduler { Type RR Priority ${c.rtPriority ?? 1} }`,
    '  Filter From Kernelspace {',
    '    Protocol Accept { TCP UDP }',
    '    Address Ignore {',
    ...ignore.map((a) => `      ${isV6(a) ? 'IPv6_address' : 'IPv4_address'} ${a}`),
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}
