/**
 * The defaults a user sees: owned here, applied by the rooms and shown by `strait --help`. A room of constants with
 * no imports, so the CLI's command registry can show them without loading the room that applies them (cli/
 * lazy-load.test.ts); before, the registry kept a copy and a test compared it with the room's value.
 */
export { DEFAULT_EDGE_LIMITS, type EdgeLimits } from './edge-limits.js';
