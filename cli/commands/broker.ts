import type { Command } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import type { AddressLease, Block, Cluster, IPPool, PoolPurpose, Subnet, Token } from '../../api/index.js';
import { StraitError, type BrokerClient } from '../../api/index.js';
import { DEFAULT_EDGE_LIMITS, initTls, parseSentinels, startBroker, type BrokerOptions, type BrokerRole, type EdgeLimits } from '../../broker/index.js';
import { age, clientFrom, print, type ClientFlags } from './broker-output.js';

type AnyCommand = { optsWithGlobals(): Record<string, unknown> };
const flagsOf = (cmd: AnyCommand): ClientFlags => cmd.optsWithGlobals() as ClientFlags;

/** Runs one broker call with a client built from the command's flags, and always closes its keep-alive sockets. */
async function withClient(cmd: AnyCommand, fn: (c: BrokerClient, f: ClientFlags) => Promise<void>): Promise<void> {
  const f = flagsOf(cmd);
  const c = clientFrom(f);
  try {
    await fn(c, f);
  } finally {
    c.close();
  }
}

function clientGroup(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('--broker <url>', 'broker URL, or URL,URL,… of replicas tried in turn (default: $STRAIT_BROKER)')
    .option('--token <token>', 'admin token or cluster credential (default: $STRAIT_TOKEN)')
    .option('--ca <file>', 'CA certificate to trust (default: $STRAIT_CA)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table')) as unknown as Command;
}

const list = (v: string): string[] => v.split(',').map((x) => x.trim()).filter(Boolean);

/** `k=v,k2=v2` → labels; a term without `=` is a usage error naming the flag. */
function labelsOf(flag: string, v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const term of list(v)) {
    const i = term.indexOf('=');
    if (i <= 0) throw new StraitError('INVALID_ARGUMENT', `${flag}: expected k=v[,k2=v2…], got ${JSON.stringify(term)}`, { flag });
    out[term.slice(0, i)] = term.slice(i + 1);
  }
  return out;
}

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new StraitError('INVALID_ARGUMENT', `not an integer: ${v}`);
  return n;
}

const CLUSTER_COLS: [string, (c: never) => unknown][] = [
  ['ID', (c: Cluster) => c.id],
  ['STATUS', (c: Cluster) => c.status],
  ['POD CIDRS', (c: Cluster) => c.podCIDRs],
  ['SERVICE CIDRS', (c: Cluster) => c.serviceCIDRs],
  ['HEARTBEAT', (c: Cluster) => age(c.lastHeartbeat)],
  ['RV', (c: Cluster) => c.resourceVersion],
];
const TOKEN_COLS: [string, (c: never) => unknown][] = [
  ['ID', (t: Token) => t.id],
  ['USED', (t: Token) => `${t.used}/${t.uses}`],
  ['EXPIRES', (t: Token) => t.expiresAt],
  ['DESCRIPTION', (t: Token) => t.description ?? ''],
];
const SUBNET_COLS: [string, (c: never) => unknown][] = [
  ['NAME', (s: Subnet) => s.name],
  ['CIDR', (s: Subnet) => s.cidr],
  ['DESCRIPTION', (s: Subnet) => s.description ?? ''],
  ['RV', (s: Subnet) => s.resourceVersion],
];
const POOL_COLS: [string, (c: never) => unknown][] = [
  ['NAME', (p: IPPool) => p.name],
  ['CIDR', (p: IPPool) => p.cidr],
  ['BLOCK', (p: IPPool) => `/${p.blockSize}`],
  ['PURPOSE', (p: IPPool) => p.purpose],
  ['SUBNET', (p: IPPool) => p.subnet ?? ''],
  ['OWNER', (p: IPPool) => p.cluster ?? '(admin)'],
  ['RV', (p: IPPool) => p.resourceVersion],
];
const BLOCK_COLS: [string, (c: never) => unknown][] = [
  ['ID', (b: Block) => b.id],
  ['CIDR', (b: Block) => b.cidr],
  ['CLUSTER', (b: Block) => b.cluster],
  ['NODE', (b: Block) => b.node],
  ['AGE', (b: Block) => age(b.createdAt)],
];
const ADDRESS_COLS: [string, (c: never) => unknown][] = [
  ['IP', (a: AddressLease) => a.ip],
  ['POOL', (a: AddressLease) => a.pool],
  ['CLUSTER', (a: AddressLease) => a.cluster],
  ['OWNER', (a: AddressLease) => a.owner],
];

/** A whole number of at least `min` from a flag, or INVALID_ARGUMENT naming the flag. */
function count(flag: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new StraitError('INVALID_ARGUMENT', `${flag} wants a whole number of at least ${min}, got ${JSON.stringify(v)}`);
  return n;
}
function seconds(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new StraitError('INVALID_ARGUMENT', `${flag} wants seconds (> 0), got ${JSON.stringify(v)}`);
  return Math.round(n * 1000);
}

/** The per-connection limit flags (docs/broker.md, "Per-connection limits"). */
function limitsFrom(o: { bodyLimit: string; heartbeatBodyLimit: string; bodyTimeout: string; headersTimeout: string; watchBacklog: string; watchPage: string; watchesPerCredential: string }): EdgeLimits {
  return {
    bodyBytes: count('--body-limit', o.bodyLimit, 1024),
    heartbeatBodyBytes: count('--heartbeat-body-limit', o.heartbeatBodyLimit, 1024),
    bodyTimeoutMs: seconds('--body-timeout', o.bodyTimeout),
    headersTimeoutMs: seconds('--headers-timeout', o.headersTimeout),
    watchBacklogBytes: count('--watch-backlog', o.watchBacklog, 64 * 1024),
    catchUpPage: count('--watch-page', o.watchPage, 1),
    watchesPerCredential: count('--watches-per-credential', o.watchesPerCredential, 1),
  };
}

/** `strait broker`, `token`, `cluster`, `subnet`, `pool`. */
export function registerBrokerCommands(program: Command): void {
  const broker = program
    .command('broker')
    .description('Run the broker (REST API on Redis); with no --redis it starts its own redis-server under --state-dir')
    .option('--listen <host:port>', 'address to serve on', '127.0.0.1:8443')
    .option('--state-dir <dir>', 'state directory (embedded Redis, admin token, TLS files)', '/var/lib/strait/broker')
    .option('--redis <url>', 'external Redis (redis://, rediss://, unix:///path); default $REDIS_URL or embedded')
    .option('--redis-sentinels <host:port,…>', 'Redis Sentinel instances to ask for the primary (instead of --redis)')
    .option('--redis-name <name>', 'the master name the sentinels monitor (with --redis-sentinels)')
    .option('--redis-wait-replicas <n>', 'replicas that must hold a write before it is acknowledged (WAIT); default 1 with Sentinel, else 0')
    .option('--redis-wait-timeout <seconds>', 'how long a write waits for its replicas before it answers OUTCOME_UNKNOWN', '1')
    .addOption(new Option('--role <role>', 'serve the API, run the jobs, or both').choices(['api', 'worker', 'all']).default('all'))
    .option('--tls-cert <file>', 'server certificate (PEM)')
    .option('--tls-key <file>', 'server key (PEM)')
    .option('--advertise-url <url>', 'URL members use to reach this broker (goes into join tokens)')
    .option('--idempotency-ttl <seconds>', 'how long the answer of a write made with an Idempotency-Key is kept for its retries', '600')
    .option('--owner-grace <seconds>', 'return blocks of nodes / addresses of owners their cluster has reported gone for this long', '300')
    .option('--body-limit <bytes>', 'request body limit', String(DEFAULT_EDGE_LIMITS.bodyBytes))
    .option('--heartbeat-body-limit <bytes>', 'body limit of heartbeats (they carry node and owner sets)', String(DEFAULT_EDGE_LIMITS.heartbeatBodyBytes))
    .option('--body-timeout <seconds>', 'a request body must arrive within this long (408 REQUEST_TIMEOUT)', String(DEFAULT_EDGE_LIMITS.bodyTimeoutMs / 1000))
    .option('--headers-timeout <seconds>', 'request headers must arrive within this long', String(DEFAULT_EDGE_LIMITS.headersTimeoutMs / 1000))
    .option('--watch-backlog <bytes>', 'unread bytes a watcher may leave before it is cut off', String(DEFAULT_EDGE_LIMITS.watchBacklogBytes))
    .option('--watch-page <events>', 'events per page when a watch catches up from an old resourceVersion', String(DEFAULT_EDGE_LIMITS.catchUpPage))
    .option('--watches-per-credential <n>', 'open watches one credential may hold on this broker', String(DEFAULT_EDGE_LIMITS.watchesPerCredential))
    .action(async (o) => {
      const ownerGrace = Number(o.ownerGrace);
      if (!Number.isFinite(ownerGrace) || ownerGrace < 0) throw new StraitError('INVALID_ARGUMENT', `--owner-grace wants seconds, got ${JSON.stringify(o.ownerGrace)}`);
      const limits = limitsFrom(o);
      const idempotencyTtlMs = seconds('--idempotency-ttl', o.idempotencyTtl);
      if (o.redisName && !o.redisSentinels) throw new StraitError('INVALID_ARGUMENT', '--redis-name goes with --redis-sentinels');
      const sentinels = o.redisSentinels !== undefined ? parseSentinels(o.redisSentinels) : undefined;
      if (sentinels && !o.redisName) throw new StraitError('INVALID_ARGUMENT', '--redis-sentinels needs --redis-name (the name the sentinels monitor)');
      if (sentinels && o.redis) throw new StraitError('INVALID_ARGUMENT', '--redis-sentinels and --redis exclude each other');
      const { redisSentinels: _s, ...rest } = o;
      const redis = {
        redisSentinels: sentinels,
        redisName: o.redisName,
        replicaAck: {
          ...(o.redisWaitReplicas !== undefined ? { replicas: count('--redis-wait-replicas', o.redisWaitReplicas, 0) } : {}),
          timeoutMs: seconds('--redis-wait-timeout', o.redisWaitTimeout),
        },
      };
      // Signals are taken from the start: a SIGTERM while starting stops what was started instead of orphaning it.
      let signalled = false;
      let wake = (): void => undefined;
      const onSignal = (): void => {
        signalled = true;
        wake();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runBroker({ ...rest, ...redis }, ownerGrace, limits, idempotencyTtlMs, () => signalled, (f) => (wake = f));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  /** Starts the broker (which cleans up after itself if it cannot start) and runs it until a signal. */
  const runBroker = async (
    o: { listen: string; stateDir: string; role: string; redis?: string; tlsCert?: string; tlsKey?: string; advertiseUrl?: string } & Pick<BrokerOptions, 'redisSentinels' | 'redisName' | 'replicaAck'>,
    ownerGrace: number,
    limits: EdgeLimits,
    idempotencyTtlMs: number,
    signalled: () => boolean,
    onWake: (f: () => void) => void,
  ): Promise<void> => {
      const h = await startBroker({
        limits,
        idempotencyTtlMs,
        jobs: { ownerGraceMs: ownerGrace * 1000 },
        listen: o.listen,
        stateDir: o.stateDir,
        role: o.role as BrokerRole,
        ...(o.redis ? { redisUrl: o.redis } : {}),
        ...(o.redisSentinels ? { redisSentinels: o.redisSentinels, redisName: o.redisName! } : {}),
        ...(o.replicaAck ? { replicaAck: o.replicaAck } : {}),
        ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
        ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}),
        ...(o.advertiseUrl ? { advertiseUrl: o.advertiseUrl } : {}),
      });
      try {
        if (signalled()) return;
        process.stdout.write(`${JSON.stringify({ url: h.url, role: o.role, adminTokenFile: process.env.STRAIT_ADMIN_TOKEN ? undefined : `${o.stateDir}/admin.token`, caHash: h.caHash || undefined })}\n`);
        await new Promise<void>((resolve) => {
          onWake(resolve);
          if (signalled()) resolve();
        });
      } finally {
        await h.stop();
      }
  };
  broker
    .command('init-tls')
    .description('Make a CA and a server certificate under STATE_DIR/tls (the CA hash goes into join tokens)')
    .option('--state-dir <dir>', 'state directory', '/var/lib/strait/broker')
    .option('--host <name...>', 'extra DNS names or IPs for the server certificate')
    .action(async (o, cmd) => {
      // `broker` has a --state-dir of its own, and commander hands a flag written after the subcommand to the parent
      // when both define it: take the parent's value when it came from the command line.
      const parent = cmd.parent;
      const stateDir = parent?.getOptionValueSource('stateDir') === 'cli' ? String(parent.opts().stateDir) : o.stateDir;
      const t = await initTls(stateDir, { hosts: o.host ?? [] });
      process.stdout.write(`${JSON.stringify({ ...t, run: `strait broker --state-dir ${stateDir} --tls-cert ${t.cert} --tls-key ${t.key}` }, null, 2)}\n`);
    });

  // ------------------------------------------------------------------ tokens
  const token = clientGroup(program, 'token', 'Join tokens (admin)');
  token
    .command('create')
    .description('Create a join token; prints it once')
    .option('--ttl <seconds>', 'lifetime in seconds', '86400')
    .option('--uses <n>', 'how many clusters may join with it', '1')
    .option('--description <text>', 'note shown in `token list`')
    .action(async (o, cmd) => {
      await withClient(cmd, async (c, f) => {
        const t = await c.createToken({ ttlSeconds: int(o.ttl), uses: int(o.uses), ...(o.description ? { description: o.description } : {}) });
        if (f.output === 'json') print(f, t);
        else process.stdout.write(`${t.token}\n# expires ${t.expiresAt}; join with: strait join --broker ${t.broker} --token ${t.token}${t.caHash ? ` --ca-hash ${t.caHash}` : ''}\n`);
      });
    });
  token.command('list').description('List join tokens').action(async (_o, cmd) => {
    await withClient(cmd, async (c, f) => {
      const l = await c.listTokens();
      print(f, f.output === 'json' ? l : l.items, TOKEN_COLS);
    });
  });
  token.command('revoke').description('Revoke a join token').argument('<id>').action(async (id, _o, cmd) => {
    await withClient(cmd, async (c) => {
      await c.revokeToken(id);
    });
  });

  // ------------------------------------------------------------------ clusters
  const cluster = clientGroup(program, 'cluster', 'Member clusters');
  cluster.command('list').description('List clusters').action(async (_o, cmd) => {
    await withClient(cmd, async (c, f) => {
      const l = await c.listClusters();
      print(f, f.output === 'json' ? l : l.items, CLUSTER_COLS);
    });
  });
  cluster.command('get').description('Show a cluster').argument('<id>').action(async (id, _o, cmd) => {
    await withClient(cmd, async (c, f) => {
      print(f, await c.getCluster(id), CLUSTER_COLS);
    });
  });
  cluster
    .command('rotate-credential')
    .description('Issue a new credential for a cluster (e.g. a leaked one); the old one stops working at once. Prefer `strait rotate-credential` run against the member cluster, which also stores it there')
    .argument('<id>')
    .action(async (id, _o, cmd) => {
      await withClient(cmd, async (c, f) => {
        const r = await c.rotateClusterCredential(id);
        if (f.output === 'json') print(f, r);
        else {
          process.stdout.write(`${r.credentials.token}\n`);
          process.stderr.write(`# the old credential of ${id} no longer works: until this one is stored in the member cluster its agents are refused. Store it with:\n#   kubectl -n strait-system patch secret strait-cluster-credentials -p '{"stringData":{"token":"<the credential above>"}}'\n`);
        }
      });
    });
  cluster.command('remove').description('Remove a cluster (its leases are collected after the grace period)').argument('<id>').action(async (id, _o, cmd) => {
    await withClient(cmd, async (c) => {
      await c.removeCluster(id);
    });
  });

  // ------------------------------------------------------------------ subnets
  const subnet = clientGroup(program, 'subnet', 'Global subnets');
  subnet
    .command('create')
    .argument('<name>')
    .requiredOption('--cidr <cidr>', 'the subnet, e.g. 10.240.0.0/12')
    .option('--description <text>')
    .action(async (name, o, cmd) => {
      await withClient(cmd, async (c, f) => {
        print(f, await c.createSubnet({ name, cidr: o.cidr, ...(o.description ? { description: o.description } : {}) }), SUBNET_COLS);
      });
    });
  subnet.command('list').action(async (_o, cmd) => {
    await withClient(cmd, async (c, f) => {
      const l = await c.listSubnets();
      print(f, f.output === 'json' ? l : l.items, SUBNET_COLS);
    });
  });
  subnet.command('get').argument('<name>').action(async (name, _o, cmd) => {
    await withClient(cmd, async (c, f) => {
      print(f, await c.getSubnet(name), SUBNET_COLS);
    });
  });
  subnet.command('delete').argument('<name>').action(async (name, _o, cmd) => {
    await withClient(cmd, async (c) => {
      await c.deleteSubnet(name);
    });
  });

  // ------------------------------------------------------------------ pools
  const pool = clientGroup(program, 'pool', 'Global IP pools, blocks and address leases');
  pool
    .command('create')
    .argument('<name>')
    .requiredOption('--cidr <cidr>', 'the pool range')
    .option('--block-size <prefix>', 'prefix length of node blocks (default /26 IPv4, /122 IPv6)')
    .option('--subnet <name>', 'subnet the pool lies in')
    .option('--cluster <id>', 'owning cluster (admin only; a cluster credential always creates pools it owns)')
    .addOption(new Option('--purpose <p>').choices(['pods', 'egress', 'services']).default('pods'))
    .option('--description <text>')
    .option('--default', 'a cluster default pool (used by pods no annotation, namespace or netconf assigns)')
    .option('--disable', 'hand out nothing new')
    .option('--ips <ranges>', 'only these addresses: comma-separated IPs or first-last ranges')
    .option('--exclude-ips <ranges>', 'never these addresses: comma-separated IPs or first-last ranges')
    .option('--gateway <ip>', 'default gateway handed to pods')
    .option('--namespace-affinity <labels>', 'only pods of namespaces with these labels (k=v,…; kubernetes.io/metadata.name=NS for one namespace)')
    .option('--node-affinity <labels>', 'only pods on nodes with these labels (k=v,…)')
    .option('--pod-affinity <labels>', 'only pods with these labels (k=v,…)')
    .action(async (name, o, cmd) => {
      await withClient(cmd, async (c, f) => {
        const p = await c.createPool({
          name,
          cidr: o.cidr,
          purpose: o.purpose as PoolPurpose,
          ...(o.blockSize ? { blockSize: int(o.blockSize) } : {}),
          ...(o.subnet ? { subnet: o.subnet } : {}),
          ...(o.cluster ? { cluster: o.cluster } : {}),
          ...(o.description ? { description: o.description } : {}),
          ...(o.default ? { default: true } : {}),
          ...(o.disable ? { disable: true } : {}),
          ...(o.ips ? { ips: list(o.ips) } : {}),
          ...(o.excludeIps ? { excludeIPs: list(o.excludeIps) } : {}),
          ...(o.gateway ? { gateway: o.gateway } : {}),
          ...(o.namespaceAffinity ? { namespaceAffinity: { matchLabels: labelsOf('--namespace-affinity', o.namespaceAffinity) } } : {}),
          ...(o.nodeAffinity ? { nodeAffinity: { matchLabels: labelsOf('--node-affinity', o.nodeAffinity) } } : {}),
          ...(o.podAffinity ? { podAffinity: { matchLabels: labelsOf('--pod-affinity', o.podAffinity) } } : {}),
        });
        print(f, p, POOL_COLS);
      });
    });
  pool.command('list').action(async (_o, cmd) => {
    await withClient(cmd, async (c, f) => {
      const l = await c.listPools();
      print(f, f.output === 'json' ? l : l.items, POOL_COLS);
    });
  });
  pool.command('get').argument('<name>').action(async (name, _o, cmd) => {
    await withClient(cmd, async (c, f) => {
      print(f, await c.getPool(name), POOL_COLS);
    });
  });
  pool.command('delete').argument('<name>').action(async (name, _o, cmd) => {
    await withClient(cmd, async (c) => {
      await c.deletePool(name);
    });
  });
  pool
    .command('blocks')
    .description('List leased blocks')
    .argument('[pool]')
    .option('--cluster <id>')
    .action(async (p, o, cmd) => {
      await withClient(cmd, async (c, f) => {
        const l = await c.listBlocks({ ...(p ? { pool: p } : {}), ...(o.cluster ? { cluster: o.cluster } : {}) });
        print(f, f.output === 'json' ? l : l.items, BLOCK_COLS);
      });
    });
  pool
    .command('lease-block')
    .argument('<pool>')
    .requiredOption('--cluster <id>')
    .requiredOption('--node <name>')
    .action(async (p, o, cmd) => {
      await withClient(cmd, async (c, f) => {
        print(f, await c.leaseBlock(p, { cluster: o.cluster, node: o.node }), BLOCK_COLS);
      });
    });
  pool.command('release-block').argument('<id>').action(async (id, _o, cmd) => {
    await withClient(cmd, async (c) => {
      await c.releaseBlock(id);
    });
  });
  pool
    .command('addresses')
    .description('List leased addresses')
    .argument('[pool]')
    .option('--cluster <id>')
    .action(async (p, o, cmd) => {
      await withClient(cmd, async (c, f) => {
        const l = await c.listAddresses({ ...(p ? { pool: p } : {}), ...(o.cluster ? { cluster: o.cluster } : {}) });
        print(f, f.output === 'json' ? l : l.items, ADDRESS_COLS);
      });
    });
  pool
    .command('lease-address')
    .argument('<pool>')
    .requiredOption('--owner <owner>')
    .option('--cluster <id>')
    .action(async (p, o, cmd) => {
      await withClient(cmd, async (c, f) => {
        print(f, await c.leaseAddress(p, { owner: o.owner, ...(o.cluster ? { cluster: o.cluster } : {}) }), ADDRESS_COLS);
      });
    });
  pool.command('release-address').argument('<ip>').action(async (ip, _o, cmd) => {
    await withClient(cmd, async (c) => {
      await c.releaseAddress(ip);
    });
  });

  // ------------------------------------------------------------------ egress objects (pushed by member agents)
  const egress = clientGroup(program, 'egress', 'Egress objects the member clusters pushed to the broker');
  egress
    .command('list')
    .description('List EgressGateways, EgressPolicies and EgressClusterPolicies of all clusters')
    .option('--cluster <id>', 'only this cluster\'s')
    .action(async (o, cmd) => {
      await withClient(cmd, async (c, f) => {
        const opts = o.cluster ? { cluster: o.cluster } : {};
        const [gws, pols, cpols] = await Promise.all([c.listEgressGateways(opts), c.listEgressPolicies(opts), c.listEgressClusterPolicies(opts)]);
        if (f.output === 'json') return print(f, { egressGateways: gws.items, egressPolicies: pols.items, egressClusterPolicies: cpols.items });
        const rows = [
          ...gws.items.map((x) => ({ kind: 'EgressGateway', ...x })),
          ...pols.items.map((x) => ({ kind: 'EgressPolicy', ...x })),
          ...cpols.items.map((x) => ({ kind: 'EgressClusterPolicy', ...x })),
        ];
        print(f, rows, EGRESS_COLS);
      });
    });
}

type EgressRow = { kind: string; cluster: string; name: string; namespace?: string; updatedAt: string; spec: unknown };
const EGRESS_COLS: [string, (r: never) => unknown][] = [
  ['KIND', (r: EgressRow) => r.kind],
  ['CLUSTER', (r: EgressRow) => r.cluster],
  ['NAMESPACE', (r: EgressRow) => r.namespace ?? ''],
  ['NAME', (r: EgressRow) => r.name],
  ['GATEWAY', (r: EgressRow) => (r.spec as { egressGatewayName?: string }).egressGatewayName ?? ''],
  ['UPDATED', (r: EgressRow) => age(r.updatedAt)],
];
