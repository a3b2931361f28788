import { describe, expect, it } from '@jest/globals';
import { defaultInstallOptions } from '../../deploy/index.js';
import { DEFAULT_CNI_SOCKET } from '../../member-agent/index.js';
import { BUILTIN_NAMES } from '../../scenarios/index.js';
import { BUILTIN_TOPOLOGY_NAMES, CNI_SOCKET_DEFAULT, installDefaults } from './help-defaults.js';

// The registry shows these defaults without loading the rooms; the rooms' values are the truth.
describe('defaults the help shows', () => {
  it('are the rooms\' own', () => {
    expect(CNI_SOCKET_DEFAULT).toBe(DEFAULT_CNI_SOCKET);
    expect([...BUILTIN_TOPOLOGY_NAMES]).toEqual(BUILTIN_NAMES);
    const d = defaultInstallOptions('9.9.9');
    expect(installDefaults('9.9.9')).toEqual({ image: d.image, namespace: d.namespace, leaseRedis: d.leaseRedis });
  });
});
