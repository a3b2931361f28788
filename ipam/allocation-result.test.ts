import { describe, expect, it } from '@jest/globals';
import { allocationResult } from './allocation-result.js';
import { compileIpamConfig } from './pool-validation.js';
import type { AllocationRecord } from './stores/allocation-store.js';

const pools = new Map(
  compileIpamConfig({
    pools: [
      { name: 'v4', subnet: '10.0.0.0/24', gateway: '10.0.0.1', vlan: 7, routes: [{ dst: '10.9.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.0.0.254' }] },
      { name: 'v4b', subnet: '10.1.0.0/24', routes: [{ dst: '10.9.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.1.0.254' }] },
      { name: 'v6', subnet: 'fd00::/64', routes: [{ dst: '::/0' }] },
    ],
  }).map((p) => [p.name, p]),
);
const rec = (address: string, pool: string): AllocationRecord => ({ address, family: address.includes(':') ? 'ipv6' : 'ipv4', pool, ownerKey: 'k', updatedAt: 0 });

describe('allocationResult', () => {
  it('lists IPv4 first with the subnet prefix, gateway and vlan, and each route once', () => {
    expect(allocationResult([rec('fd00::5', 'v6'), rec('10.0.0.5', 'v4'), rec('10.1.0.5', 'v4b')], (n) => pools.get(n), ['why'])).toEqual({
      ips: [
        { address: '10.0.0.5/24', gateway: '10.0.0.1', vlan: 7, family: 'ipv4', pool: 'v4' },
        // Pools that name no gateway: their subnet's first host address (pool-validation.ts implicitGateway).
        { address: '10.1.0.5/24', gateway: '10.1.0.1', family: 'ipv4', pool: 'v4b' },
        { address: 'fd00::5/64', gateway: 'fd00::1', family: 'ipv6', pool: 'v6' },
      ],
      routes: [{ dst: '10.9.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.0.0.254' }, { dst: '0.0.0.0/0', gw: '10.1.0.254' }, { dst: '::/0' }],
      explanation: ['why'],
    });
  });

  it('gives a host prefix and no routes for an address whose pool is gone from the config', () => {
    expect(allocationResult([rec('10.7.0.5', 'gone'), rec('fd07::5', 'gone')], (n) => pools.get(n), [])).toEqual({
      ips: [
        { address: '10.7.0.5/32', family: 'ipv4', pool: 'gone' },
        { address: 'fd07::5/128', family: 'ipv6', pool: 'gone' },
      ],
      routes: [],
      explanation: [],
    });
  });
});
