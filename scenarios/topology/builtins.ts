import type { TopologySpec } from './model.js';

/**
 * Built-in topologies. Every cluster has two gateway candidates so gateway failover and chaos scenarios can
 * run on the same shapes the tunnel tests use; `lab up --tunnel` makes the first candidate (gw1) active.
 */
export const BUILTIN_TOPOLOGIES: Readonly<Record<string, TopologySpec>> = {
  /** c1, c2: each n1 (one pod c<i>-n1-p1), gw1, gw2 on 192.168.<i>.0/24, joined by the underlay router. */
  'two-clusters': {
    name: 'two-clusters',
    clusters: [
      { name: 'c1', workers: 1, gateways: 2, podsPerWorker: 1 },
      { name: 'c2', workers: 1, gateways: 2, podsPerWorker: 1 },
    ],
  },
  /** c1, c2, c3 shaped like two-clusters. */
  'three-clusters': {
    name: 'three-clusters',
    clusters: [
      { name: 'c1', workers: 1, gateways: 2, podsPerWorker: 1 },
      { name: 'c2', workers: 1, gateways: 2, podsPerWorker: 1 },
      { name: 'c3', workers: 1, gateways: 2, podsPerWorker: 1 },
    ],
  },
  /**
   * One cluster c1: worker n1 with two pods (10.11.1.2, .3), gateways gw1 (192.168.1.11) and gw2 (.12) on the
   * cluster LAN, both also on the WAN (eth1 172.31.0.11/.12) with the external server ext (172.31.0.100).
   * n1 routes default via gw1. Like the cookbook's egress topology, with a node between pods and gateways.
   */
  egress: {
    name: 'egress',
    clusters: [{ name: 'c1', workers: 1, gateways: 2, podsPerWorker: 2 }],
    externals: [{ name: 'ext' }],
  },
};

export const BUILTIN_NAMES = Object.keys(BUILTIN_TOPOLOGIES);
