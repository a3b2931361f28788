import { StraitError } from '../api/index.js';
import type { TunnelDriver, TunnelDriverFactory, TunnelLocalConfig, TunnelType } from './types.js';

/** Drivers by type, built by the caller (composition root). Holds factories only; creating a driver does no I/O. */
export interface TunnelRegistry {
  types(): TunnelType[];
  has(type: string): type is TunnelType;
  create(type: string, config: TunnelLocalConfig): TunnelDriver;
}

/**
 * An explicit registry: the caller decides which factories exist (real ones from `realTunnelFactories()`,
 * the recording fake in unit tests). No module fills a global registry on import.
 */
export function createTunnelRegistry(factories: Partial<Record<TunnelType, TunnelDriverFactory>>): TunnelRegistry {
  const table = new Map<TunnelType, TunnelDriverFactory>(
    Object.entries(factories).filter((e): e is [TunnelType, TunnelDriverFactory] => typeof e[1] === 'function'),
  );
  return {
    types: () => [...table.keys()],
    has: (type: string): type is TunnelType => table.has(type as TunnelType),
    create(type, config) {
      const factory = table.get(type as TunnelType);
      if (!factory) {
        throw new StraitError('TUNNEL_UNKNOWN_TYPE', `unknown tunnel type "${type}" (known: ${[...table.keys()].join(', ') || 'none'})`, {
          type,
        });
      }
      return factory(config);
    },
  };
}
