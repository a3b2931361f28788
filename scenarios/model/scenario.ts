import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { StraitError } from '../../api/index.js';

/**
 * The scenario model: what a chaos scenario file says (topology, traffic, faults, assertions), validated and
 * filled with defaults. Pure: no I/O here, so every rule is table-tested.
 */

/** Every fault a scenario can inject. Each one targets the active gateway of the chosen cluster. */
export const FAULT_KINDS = [
  'gateway-sigkill', // the gateway agent process is killed (crash)
  'gateway-sigstop', // the gateway agent is frozen (hung process; the kernel datapath stays up)
  'link-down', // the gateway's underlay link goes down
  'node-death', // the gateway's network namespace is deleted: node, agent and addresses vanish at once
  'partition', // nftables drops everything between the gateway and the rest of its cluster
  'broker-restart', // the broker restarts while the gateway is failing over (combined with a SIGKILL)
  'lease-store-kill', // one of the gateways' lease stores is SIGKILLed (steady state: nothing may change)
  'lease-store-partition', // one lease store is cut off from the active gateway (steady state: nothing may change)
  'lease-store-kill-during-failover', // the active gateway is SIGKILLed and a lease store with it
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const TRAFFIC_KINDS = ['cross-cluster', 'egress'] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];

/** `failover`: trials of faults; `steady`: no fault, one long run that measures what a healthy lab does on its own. */
export const SCENARIO_KINDS = ['failover', 'steady'] as const;
export type ScenarioKind = (typeof SCENARIO_KINDS)[number];

export const PROFILES = ['default', 'fast'] as const;
export type Profile = (typeof PROFILES)[number];

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lowercase letters, digits and dashes, at most 41');

const faultSchema = z
  .object({
    kind: z.enum(FAULT_KINDS),
    /** Which cluster's active gateway the fault hits (the first cluster when left out). */
    cluster: z.string().min(1).optional(),
    /** A label for reports; defaults to the kind. */
    name: name.optional(),
  })
  .strict();

const outageLimit = z.union([z.number().int().positive(), z.object({ default: z.number().int().positive(), fast: z.number().int().positive() }).strict()]);

const assertionsSchema = z
  .object({
    /** Traffic must come back within the trial (the last probes must be answered). */
    recovers: z.boolean().default(true),
    /** Upper bound for the outage of each trial, per profile. Generous by default: tests assert behaviour. */
    maxOutageMs: outageLimit.default({ default: 5000, fast: 5000 }),
    /**
     * The standby candidate of the faulted cluster must carry the traffic afterwards (`standby`), any other one
     * (`any`), or the faulted gateway must keep it and its egress IPs, with no role change (`none`: faults that
     * must change nothing, such as losing one lease store of a quorum).
     */
    takeover: z.enum(['standby', 'any', 'none']).default('standby'),
    /** An egress IP must never be configured on two gateways at the same time. */
    noEipConflict: z.boolean().default(true),
    /** The external server must only ever see the policy's egress IP; remote pods the client pod's own IP. */
    sourceIp: z.boolean().default(true),
    /** TCP flows of these traffic kinds must survive the failover (egress flows need conntrack sync on the gateways). */
    tcpSurvives: z.array(z.enum(TRAFFIC_KINDS)).default([]),
  })
  .strict();

const trafficSchema = z
  .object({
    /** Which flows run during every trial. */
    kinds: z.array(z.enum(TRAFFIC_KINDS)).min(1).default(['cross-cluster', 'egress']),
    udpIntervalMs: z.number().int().min(1).max(1000).default(10),
    /** A long-lived TCP stream per traffic kind next to the UDP prober. */
    tcpStream: z.boolean().default(true),
  })
  .strict();

const timingSchema = z
  .object({
    /** Traffic runs this long before the fault, so the baseline is in the report. */
    beforeFaultMs: z.number().int().min(100).max(60_000).default(800),
    /** Traffic keeps running this long after the fault; the outage must fit inside. */
    afterFaultMs: z.number().int().min(200).max(120_000).default(2500),
    /** Time for the lab to settle between trials (the faulted gateway is restored and re-elected). */
    settleMs: z.number().int().min(0).max(120_000).default(1500),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name,
    kind: z.enum(SCENARIO_KINDS).default('failover'),
    description: z.string().default(''),
    /** A built-in topology name (see `strait lab`) or an inline topology spec, passed to the lab as is. */
    topology: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    tunnel: z.enum(['wireguard', 'vxlan', 'geneve', 'ipsec']).default('wireguard'),
    profile: z.enum(PROFILES).default('default'),
    /** The gateways' lease stores in the lab: 3 (a quorum lease, the default) or 1 (the single-store lease). */
    leaseStores: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(3),
    trialsPerFault: z.number().int().min(1).max(1000).default(2),
    traffic: trafficSchema.default({ kinds: ['cross-cluster', 'egress'], udpIntervalMs: 10, tcpStream: true }),
    timing: timingSchema.default({ beforeFaultMs: 800, afterFaultMs: 2500, settleMs: 1500 }),
    /** Required (at least one) for `failover`, absent for `steady`. */
    faults: z.array(faultSchema).default([]),
    /** `steady` only: how long traffic runs (`--duration` overrides). */
    durationMs: z.number().int().min(1000).max(24 * 3_600_000).optional(),
    assertions: assertionsSchema.default({
      recovers: true,
      maxOutageMs: { default: 5000, fast: 5000 },
      takeover: 'standby',
      noEipConflict: true,
      sourceIp: true,
      tcpSurvives: [],
    }),
  })
  .strict();

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioFault = z.output<typeof faultSchema>;
export type ScenarioAssertions = z.output<typeof assertionsSchema>;

/** The outage bound that applies to a profile. */
export function outageLimitMs(a: ScenarioAssertions, profile: Profile): number {
  return typeof a.maxOutageMs === 'number' ? a.maxOutageMs : a.maxOutageMs[profile];
}

/** Validates an already-parsed object. `source` names the file in error messages. */
export function validateScenario(raw: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new StraitError('SCENARIO_INVALID', `${source}: ${problems.join('; ')}`, { source, problems });
  }
  const s = r.data;
  const kindProblem =
    s.kind === 'failover' && s.faults.length === 0
      ? 'faults: a failover scenario needs at least one fault'
      : s.kind === 'steady' && s.faults.length > 0
        ? 'faults: a steady scenario injects no fault; leave faults out'
        : s.kind === 'failover' && s.durationMs !== undefined
          ? 'durationMs: only a steady scenario has a duration (a failover trial is timed by timing.beforeFaultMs/afterFaultMs)'
          : null;
  if (kindProblem) throw new StraitError('SCENARIO_INVALID', `${source}: ${kindProblem}`, { source, problems: [kindProblem] });
  const labels = s.faults.map((f) => f.name ?? f.kind);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) {
    const problems = [`faults: "${dup}" appears twice; give one of them a distinct name`];
    throw new StraitError('SCENARIO_INVALID', `${source}: ${problems.join('; ')}`, { source, problems });
  }
  return s;
}

/** Parses and validates scenario YAML text. */
export function parseScenario(text: string, source = 'scenario'): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const msg = e instanceof YAMLParseError ? e.message.split('\n')[0] : String(e);
    throw new StraitError('SCENARIO_INVALID', `${source}: not valid YAML: ${msg}`, { source });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new StraitError('SCENARIO_INVALID', `${source}: expected a mapping with name, topology and faults`, { source });
  }
  return validateScenario(raw, source);
}

/** The label a fault carries in reports. */
export function faultLabel(f: ScenarioFault): string {
  return f.name ?? f.kind;
}
