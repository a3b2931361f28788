import type { Command } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import type { BrokerClient, PoolPurpose } from '../../api/index.js';
import type * as Kit from './broker-client.js';
import type { ClientFlags } from './broker-output.js';
import { DEFAULT_EDGE_LIMITS as EDGE_LIMIT_DEFAULTS } from '../../defaults/index.js';

// The registry of the broker's commands: names, flags and help only. Each action imports what it runs on first use
// (./broker-daemon.js for the broker itself, ./broker-client.js for the client commands), so `strait --help` and
// every other command load none of the broker or its client.

type AnyCommand = { optsWithGlobals(): Record<string, unknown> };
const flagsOf = (cmd: AnyCommand): ClientFlags => cmd.optsWithGlobals() as ClientFlags;

/**
 * Runs one broker call with a client built from the command's flags, and always closes its keep-alive sockets; `k`
 * is the client kit (output, tables, flag parsers), loaded here on first use.
 */
async function withClient(cmd: AnyCommand, fn: (c: BrokerClient, f: ClientFlags, k: typeof Kit) => Promise<void>): Promise<void> {
  const k = await import('./broker-client.js');
  const f = flagsOf(cmd);
  const c = k.clientFrom(f);
  try {
    await fn(c, f, k);
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
    .option('--body-limit <bytes>', 'request body limit', String(EDGE_LIMIT_DEFAULTS.bodyBytes))
    .option('--heartbeat-body-limit <bytes>', 'body limit of heartbeats (they carry node and owner sets)', String(EDGE_LIMIT_DEFAULTS.heartbeatBodyBytes))
    .option('--body-timeout <seconds>', 'a request body must arrive within this long (408 REQUEST_TIMEOUT)', String(EDGE_LIMIT_DEFAULTS.bodyTimeoutMs / 1000))
    .option('--headers-timeout <seconds>', 'request headers must arrive within this long', String(EDGE_LIMIT_DEFAULTS.headersTimeoutMs / 1000))
    .option('--watch-backlog <bytes>', 'unread bytes a watcher may leave before it is cut off', String(EDGE_LIMIT_DEFAULTS.watchBacklogBytes))
    .option('--watch-page <events>', 'events per page when a watch catches up from an old resourceVersion', String(EDGE_LIMIT_DEFAULTS.catchUpPage))
    .option('--watches-per-credential <n>', 'open watches one credential may hold on this broker', String(EDGE_LIMIT_DEFAULTS.watchesPerCredential))
    .action(async (o) => {
      await (await import('./broker-daemon.js')).runBrokerCommand(o);
    });
  broker
    .command('init-tls')
    .description('Make a CA and a server certificate under STATE_DIR/tls (the CA hash goes into join tokens)')
    .option('--state-dir <dir>', 'state directory', '/var/lib/strait/broker')
    .option('--host <name...>', 'extra DNS names or IPs for the server certificate')
    .action(async (o, cmd) => {
      await (await import('./broker-daemon.js')).initTlsCommand(o, cmd);
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
      await withClient(cmd, async (c, f, k) => {
        const t = await c.createToken({ ttlSeconds: k.int(o.ttl), uses: k.int(o.uses), ...(o.description ? { description: o.description } : {}) });
        if (f.output === 'json') k.print(f, t);
        else process.stdout.write(`${t.token}\n# expires ${t.expiresAt}; join with: strait join --broker ${t.broker} --token ${t.token}${t.caHash ? ` --ca-hash ${t.caHash}` : ''}\n`);
      });
    });
  token.command('list').description('List join tokens').action(async (_o, cmd) => {
    await withClient(cmd, async (c, f, k) => {
      k.printList(f, await c.listTokens(), k.TOKEN_COLS);
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
    await withClient(cmd, async (c, f, k) => {
      k.printList(f, await c.listClusters(), k.CLUSTER_COLS);
    });
  });
  cluster.command('get').description('Show a cluster').argument('<id>').action(async (id, _o, cmd) => {
    await withClient(cmd, async (c, f, k) => {
      k.print(f, await c.getCluster(id), k.CLUSTER_COLS);
    });
  });
  cluster
    .command('rotate-credential')
    .description('Issue a new credential for a cluster (e.g. a leaked one); the old one stops working at once. Prefer `strait rotate-credential` run against the member cluster, which also stores it there')
    .argument('<id>')
    .action(async (id, _o, cmd) => {
      await withClient(cmd, async (c, f, k) => {
        const r = await c.rotateClusterCredential(id);
        if (f.output === 'json') k.print(f, r);
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
      await withClient(cmd, async (c, f, k) => {
        k.print(f, await c.createSubnet({ name, cidr: o.cidr, ...(o.description ? { description: o.description } : {}) }), k.SUBNET_COLS);
      });
    });
  subnet.command('list').action(async (_o, cmd) => {
    await withClient(cmd, async (c, f, k) => {
      k.printList(f, await c.listSubnets(), k.SUBNET_COLS);
    });
  });
  subnet.command('get').argument('<name>').action(async (name, _o, cmd) => {
    await withClient(cmd, async (c, f, k) => {
      k.print(f, await c.getSubnet(name), k.SUBNET_COLS);
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
      await withClient(cmd, async (c, f, k) => {
        const p = await c.createPool({
          name,
          cidr: o.cidr,
          purpose: o.purpose as PoolPurpose,
          ...(o.blockSize ? { blockSize: k.int(o.blockSize) } : {}),
          ...(o.subnet ? { subnet: o.subnet } : {}),
          ...(o.cluster ? { cluster: o.cluster } : {}),
          ...(o.description ? { description: o.description } : {}),
          ...(o.default ? { default: true } : {}),
          ...(o.disable ? { disable: true } : {}),
          ...(o.ips ? { ips: k.list(o.ips) } : {}),
          ...(o.excludeIps ? { excludeIPs: k.list(o.excludeIps) } : {}),
          ...(o.gateway ? { gateway: o.gateway } : {}),
          ...(o.namespaceAffinity ? { namespaceAffinity: { matchLabels: k.labelsOf('--namespace-affinity', o.namespaceAffinity) } } : {}),
          ...(o.nodeAffinity ? { nodeAffinity: { matchLabels: k.labelsOf('--node-affinity', o.nodeAffinity) } } : {}),
          ...(o.podAffinity ? { podAffinity: { matchLabels: k.labelsOf('--pod-affinity', o.podAffinity) } } : {}),
        });
        k.print(f, p, k.POOL_COLS);
      });
    });
  pool.command('list').action(async (_o, cmd) => {
    await withClient(cmd, async (c, f, k) => {
      k.printList(f, await c.listPools(), k.POOL_COLS);
    });
  });
  pool.command('get').argument('<name>').action(async (name, _o, cmd) => {
    await withClient(cmd, async (c, f, k) => {
      k.print(f, await c.getPool(name), k.POOL_COLS);
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
      await withClient(cmd, async (c, f, k) => {
        k.printList(f, await c.listBlocks(k.leaseFilter(p, o.cluster)), k.BLOCK_COLS);
      });
    });
  pool
    .command('lease-block')
    .argument('<pool>')
    .requiredOption('--cluster <id>')
    .requiredOption('--node <name>')
    .action(async (p, o, cmd) => {
      await withClient(cmd, async (c, f, k) => {
        k.print(f, await c.leaseBlock(p, { cluster: o.cluster, node: o.node }), k.BLOCK_COLS);
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
      await withClient(cmd, async (c, f, k) => {
        k.printList(f, await c.listAddresses(k.leaseFilter(p, o.cluster)), k.ADDRESS_COLS);
      });
    });
  pool
    .command('lease-address')
    .argument('<pool>')
    .requiredOption('--owner <owner>')
    .option('--cluster <id>')
    .action(async (p, o, cmd) => {
      await withClient(cmd, async (c, f, k) => {
        k.print(f, await c.leaseAddress(p, { owner: o.owner, ...(o.cluster ? { cluster: o.cluster } : {}) }), k.ADDRESS_COLS);
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
      await withClient(cmd, async (c, f, k) => {
        const opts = o.cluster ? { cluster: o.cluster } : {};
        const [gws, pols, cpols] = await Promise.all([c.listEgressGateways(opts), c.listEgressPolicies(opts), c.listEgressClusterPolicies(opts)]);
        if (f.output === 'json') return k.print(f, { egressGateways: gws.items, egressPolicies: pols.items, egressClusterPolicies: cpols.items });
        const rows = [
          ...gws.items.map((x) => ({ kind: 'EgressGateway', ...x })),
          ...pols.items.map((x) => ({ kind: 'EgressPolicy', ...x })),
          ...cpols.items.map((x) => ({ kind: 'EgressClusterPolicy', ...x })),
        ];
        k.print(f, rows, k.EGRESS_COLS);
      });
    });
}
