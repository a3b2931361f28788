import { newRunId, runDir } from '../../host/index.js';
import { join } from 'node:path';
import type { RunReport } from '../report/model.js';
import { defaultReportDir, withFailoverLab } from './main.js';
import { runScenario, type RunEvent } from './run.js';
import { loadScenario } from '../model/scenario-files.js';
import type { Profile, Scenario } from '../model/scenario.js';
import type { FailoverBackend } from '../model/failover-backend.js';
import type { BrokerView, GatewayBackend } from './gateway-backend.js';

/** A gateway whose broker entry was not refreshed for this long is shown as silent (agents refresh every 2 s). */
const SILENT_AFTER_MS = 3500;

/** "broker (before the fault): 2 clusters, 4 gateways [c1-gw1 Healthy p100 0.4s ago, …]; active in c1: c1-gw1". */
export function formatBrokerView(when: string, v: BrokerView, cluster: string, active: string | null): string {
  const gws = [...v.gateways].sort((x, y) => `${x.cluster}/${x.name}`.localeCompare(`${y.cluster}/${y.name}`));
  const line = gws.map((g) => {
    const age = Math.max(0, v.at - Date.parse(g.updatedAt));
    return `${g.name} ${g.health} p${g.priority} ${(age / 1000).toFixed(1)}s ago${age > SILENT_AFTER_MS ? ' SILENT' : ''}`;
  });
  return `broker (${when}): ${v.clusters} clusters, ${gws.length} gateways [${line.join(', ')}]; active in ${cluster} (datapath): ${active ?? 'none'}`;
}

async function sample(b: FailoverBackend): Promise<{ view: BrokerView; active: string | null } | null> {
  if (!('broker' in b)) return null;
  const [view, active] = await Promise.all([(b as GatewayBackend).broker.view(), b.activeGateway()]);
  return { view, active };
}

/**
 * The main demo: the built-in failover lab (a `strait broker` on the underlay router with its Redis, the gateways'
 * lease store beside it, two clusters with two gateway candidates and a worker with a pod each, WireGuard between the
 * clusters built by the gateway agents themselves from the broker's keys and endpoints, an egress policy pushed to
 * the broker whose egress IP the agents lease there), traffic from a pod
 * to the other cluster and to the external server, one SIGKILL of the active gateway agent, the measured outage,
 * and teardown.
 */
export async function runFailoverDemo(o: { profile?: Profile; onStep?: (m: string) => void; onEvent?: (e: RunEvent) => void }): Promise<{ report: RunReport; reportDir: string }> {
  const base = loadScenario('gateway-failover');
  const s: Scenario = { ...base, name: 'demo', faults: [{ kind: 'gateway-sigkill' }], trialsPerFault: 1 };
  const profile = o.profile ?? 'default';
  const runId = newRunId();
  const reportDir = defaultReportDir('demo', runId);
  const say = o.onStep ?? (() => undefined);
  const report = await withFailoverLab({ scenario: s, profile, runId, logsDir: join(reportDir, 'logs'), ...(o.onStep ? { onStep: o.onStep } : {}) }, async (b) => {
    const before = await sample(b).catch(() => null);
    if (before) say(formatBrokerView('before the fault', before.view, b.cluster, before.active));
    else say('broker: could not be read');
    // During the trial the broker is polled (BrokerClient in this process, no process per look) so the view after the takeover can be shown; the trial
    // itself ends by restarting the killed agent, which may take its role back.
    const samples: { view: BrokerView; active: string | null }[] = [];
    let polling = false;
    let poll: NodeJS.Timeout | undefined;
    const onEvent = (e: RunEvent): void => {
      if (e.type === 'trial-start') {
        poll = setInterval(() => {
          if (polling) return;
          polling = true;
          void sample(b)
            .then((x) => void (x && samples.push(x)), () => undefined)
            .finally(() => (polling = false));
        }, 500);
      }
      if (e.type === 'trial-done') clearInterval(poll);
      o.onEvent?.(e);
    };
    try {
      const r = await runScenario(b, s, { profile, trialsPerFault: 1, reportDir, workDir: join(runDir(runId), 'probes'), onEvent });
      const t = r.trials[0];
      const after = [...samples].reverse().find((x) => t && x.view.at > t.faultAt && x.view.at < t.faultAt + s.timing.afterFaultMs && x.active !== t.faultedGateway);
      if (after && t) say(formatBrokerView(`${((after.view.at - t.faultAt) / 1000).toFixed(1)} s after the kill`, after.view, b.cluster, after.active));
      const end = await sample(b).catch(() => null);
      if (end) say(formatBrokerView(`after ${t?.faultedGateway ?? 'the gateway'} was restarted`, end.view, b.cluster, end.active));
      return r;
    } finally {
      clearInterval(poll);
    }
  });
  return { report, reportDir };
}
