import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The broker's Prometheus metrics, on a registry of their own (several brokers can live in one test process). */
export interface BrokerMetrics {
  registry: Registry;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  requests: Counter<'method' | 'route' | 'status'>;
  /** watchers cut off because their unread backlog passed the limit */
  watchesCutOff?: Counter;
}

export function createBrokerMetrics(sources: {
  leases: () => Promise<{ blocks: number; addresses: number }>;
  watchers: () => number;
  /** bytes written to watch streams and not yet taken by the kernel: total and largest single watcher */
  watchBacklog?: () => { sum: number; max: number };
  queueDepth?: () => Promise<number>;
}): BrokerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requestDuration = new Histogram({
    name: 'strait_broker_request_duration_seconds',
    help: 'Broker HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'strait_broker_requests_total',
    help: 'Broker HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'strait_broker_leases',
    help: 'Leased blocks and addresses',
    labelNames: ['type'] as const,
    registers: [registry],
    async collect() {
      const l = await sources.leases();
      this.set({ type: 'block' }, l.blocks);
      this.set({ type: 'address' }, l.addresses);
    },
  });
  new Gauge({
    name: 'strait_broker_watchers',
    help: 'Open watch streams on this replica',
    registers: [registry],
    collect() {
      this.set(sources.watchers());
    },
  });
  new Gauge({
    name: 'strait_broker_watch_backlog_bytes',
    help: 'Unsent bytes queued for watch streams on this replica: sum over watchers and the largest one',
    labelNames: ['stat'] as const,
    registers: [registry],
    collect() {
      const b = sources.watchBacklog?.() ?? { sum: 0, max: 0 };
      this.set({ stat: 'sum' }, b.sum);
      this.set({ stat: 'max' }, b.max);
    },
  });
  new Gauge({
    name: 'strait_broker_queue_depth',
    help: 'Jobs waiting or delayed in the broker job queue',
    registers: [registry],
    async collect() {
      this.set(sources.queueDepth ? await sources.queueDepth() : 0);
    },
  });
  const watchesCutOff = new Counter({
    name: 'strait_broker_watches_cut_off_total',
    help: 'Watch streams closed because the client left more than the backlog limit unread (WATCH_TOO_SLOW)',
    registers: [registry],
  });
  return { registry, requestDuration, requests, watchesCutOff };
}
