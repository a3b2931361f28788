import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../../api/index.js';
import { loadScenario, scenarioTopology } from '../model/scenario-files.js';
import { resolveTopology } from '../topology/resolve.js';
import { startGatewayBackend } from './gateway-backend.js';

// Refusals happen before anything is built (no root needed, nothing to tear down).
describe('gateway backend: what it refuses before building', () => {
  const topology = scenarioTopology(loadScenario('gateway-failover'));

  it('lab-built tunnels are WireGuard between two clusters: another type is refused with the fix named', async () => {
    const err = await startGatewayBackend({ topology, profile: 'default', tunnels: 'mesh', tunnel: 'ipsec' }).catch((e: unknown) => e);
    expect(isStraitError(err, 'SCENARIO_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/ipsec between 2.*STRAIT_LAB_TUNNELS/);
  });

  it('lab-built tunnels between three clusters are refused', async () => {
    const three = resolveTopology({
      name: 't3',
      clusters: [
        { name: 'c1', workers: 1, gateways: 2 },
        { name: 'c2', workers: 1, gateways: 1 },
        { name: 'c3', workers: 1, gateways: 1 },
      ],
      externals: [{ name: 'ext' }],
    });
    const err = await startGatewayBackend({ topology: three, profile: 'default', tunnels: 'mesh' }).catch((e: unknown) => e);
    expect(isStraitError(err, 'SCENARIO_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/wireguard between 3/);
  });

  it('a single cluster is refused', async () => {
    const one = resolveTopology({ name: 't1', clusters: [{ name: 'c1', workers: 1, gateways: 2 }], externals: [{ name: 'ext' }] });
    const err = await startGatewayBackend({ topology: one, profile: 'default' }).catch((e: unknown) => e);
    expect(isStraitError(err, 'SCENARIO_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/two or more clusters/);
  });
});
