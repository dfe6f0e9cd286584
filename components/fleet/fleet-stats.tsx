'use client';

import type { ReactNode } from 'react';
import type { FleetSummary } from '@/lib/protocol/live';

/** The headline figures. Each `stat-*` test id sits on an element holding just the number. */
export function FleetStats({ summary }: { summary: FleetSummary }) {
  const s = summary;
  const allocatedPct = s.gpusTotal > 0 ? (s.gpusAllocated / s.gpusTotal) * 100 : null;
  const idlePct = s.gpusTotal > 0 ? (s.gpusIdle / s.gpusTotal) * 100 : null;
  const nodesTotal = s.nodesOnline + s.nodesDegraded + s.nodesOffline;
  const sloAll = s.deploymentsTotal > 0 && s.deploymentsWithinSlo === s.deploymentsTotal;
  return (
    <div className="stats">
      <Stat label="GPUs" testId="stat-gpus-total" value={s.gpusTotal} sub={`in ${nodesTotal} nodes`} />
      <Stat
        label="Allocated"
        testId="stat-gpus-allocated"
        value={s.gpusAllocated}
        sub={allocatedPct === null ? undefined : `${allocatedPct.toFixed(0)} % of GPUs`}
      />
      <Stat
        label="Idle (< 5 % util)"
        testId="stat-gpus-idle"
        value={s.gpusIdle}
        sub={idlePct === null ? undefined : `${idlePct.toFixed(0)} % of GPUs`}
        tone={s.gpusIdle > 0 ? 'warn' : undefined}
      />
      <Stat
        label="Mean utilization"
        testId="stat-mean-util"
        value={s.meanUtilizationPct === null ? null : s.meanUtilizationPct.toFixed(1)}
        unit="%"
        sub={s.meanUtilizationPct === null ? 'waiting for telemetry…' : 'across reporting GPUs'}
      />
      <Stat
        label="Nodes online"
        testId="stat-nodes-online"
        value={s.nodesOnline}
        sub={
          <>
            <span className={s.nodesDegraded > 0 ? 'text-warn' : undefined}>
              <span data-testid="stat-nodes-degraded">{s.nodesDegraded}</span> degraded
            </span>
            {' · '}
            <span className={s.nodesOffline > 0 ? 'text-bad' : undefined}>
              <span data-testid="stat-nodes-offline">{s.nodesOffline}</span> offline
            </span>
          </>
        }
        tone={s.nodesOffline > 0 ? 'bad' : s.nodesDegraded > 0 ? 'warn' : 'ok'}
      />
      <Stat
        label="Deployments within SLO"
        testId="stat-deployments-within-slo"
        value={s.deploymentsWithinSlo}
        unit={`of ${s.deploymentsTotal}`}
        sub={
          sloAll
            ? 'all meet their p95 SLO'
            : `${s.deploymentsTotal - s.deploymentsWithinSlo} over SLO or silent`
        }
        tone={sloAll ? 'ok' : 'bad'}
      />
    </div>
  );
}

function Stat({
  label,
  testId,
  value,
  unit,
  sub,
  tone,
}: {
  label: string;
  testId: string;
  value: number | string | null;
  unit?: string;
  sub?: ReactNode;
  tone?: 'ok' | 'warn' | 'bad';
}) {
  return (
    <div className={tone ? `stat stat-${tone}` : 'stat'}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">
        <span data-testid={testId}>{value === null ? '—' : value}</span>
        {unit && <span className="stat-unit">{unit}</span>}
      </div>
      {sub && <div className="stat-sub">{sub}</div>}
    </div>
  );
}
