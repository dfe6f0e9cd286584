'use client';

import Link from 'next/link';
import type { ReactNode } from 'react';
import { fmtInt, fmtRate } from '@/components/format';
import { CapacityCurve } from '@/components/stress/capacity-curve';
import { ResultsTable, ThresholdsTable } from '@/components/stress/results-table';
import { ErrorsChart, LatencyChart, RateChart } from '@/components/stress/run-charts';
import { AbortButton, ExportLinks, RunProgress } from '@/components/stress/run-controls';
import { fmtLatency, fmtShare, isActiveState, StressStateBadge } from '@/components/stress/run-state';
import { type StressRun, useStressRun } from '@/components/stress/use-stress-run';
import { Badge, EmptyState, ErrorState, Loading, Panel } from '@/components/ui/states';

export function StressRunView({ id }: { id: string }) {
  const { query, run } = useStressRun(id);
  if (!run) {
    return (
      <div className="page">
        <Breadcrumb />
        {query.error ? (
          <ErrorState error={query.error} title="Could not load this run" />
        ) : (
          <Loading label="Loading run…" />
        )}
      </div>
    );
  }
  return run.kind === 'capacity' ? <CapacitySearchView run={run} /> : <LoadRunView run={run} />;
}

function Breadcrumb({ run }: { run?: StressRun }) {
  return (
    <nav className="breadcrumb" aria-label="Breadcrumb">
      <Link href="/stress">← Stress tests</Link>
      {run?.parentId && (
        <>
          <span aria-hidden="true"> / </span>
          <Link href={`/stress/${run.parentId}`}>capacity search</Link>
        </>
      )}
    </nav>
  );
}

function Header({ run, children }: { run: StressRun; children?: ReactNode }) {
  const active = isActiveState(run.state);
  return (
    <>
      <div className="node-header">
        <div>
          <h1 data-testid="stress-title">
            {run.kind === 'capacity' ? 'Capacity search' : run.kind === 'step' ? 'Search step' : 'Stress run'}{' '}
            · <Link href={`/deployments/${run.deployment.id}`}>{run.deployment.name}</Link>
          </h1>
          <div className="node-meta">
            <StressStateBadge state={run.state} stopping={run.stopping} />
            <span data-testid="stress-load">{run.loadLabel}</span>
            <span className="muted">
              started by {run.createdByName} at {new Date(run.createdAt).toLocaleString()}
            </span>
          </div>
        </div>
        <div className="header-actions">
          <ExportLinks id={run.id} />
          {active && run.kind !== 'step' && <AbortButton id={run.id} />}
        </div>
      </div>
      {run.reason && (
        <p className={run.state === 'passed' ? 'muted' : 'form-error'} data-testid="stress-reason">
          {run.reason}
        </p>
      )}
      {children}
    </>
  );
}

function LoadRunView({ run }: { run: StressRun }) {
  const figures = run.results;
  const closedLoop = run.definition?.load.kind === 'closed';
  const failed = run.thresholds.filter((t) => t.pass === false).length;
  return (
    <div className="page" data-testid="stress-run" data-state={run.state}>
      <Breadcrumb run={run} />
      <Header run={run}>{isActiveState(run.state) && <RunProgress run={run} />}</Header>

      <div className="stats">
        <Stat label="p95" value={fmtLatency(figures?.p95)} testId="stress-p95" />
        <Stat label="p99" value={fmtLatency(figures?.p99)} testId="stress-p99" />
        <Stat
          label="Throughput"
          value={figures?.throughputRps == null ? '—' : `${fmtRate(figures.throughputRps)} req/s`}
          testId="stress-throughput"
        />
        <Stat label="Errors" value={fmtShare(figures?.errorsPct)} testId="stress-errors" />
        <Stat label="Sent late" value={fmtShare(figures?.latePct)} testId="stress-late" />
        <Stat
          label="Thresholds"
          value={
            run.thresholds.length === 0 ? '—' : `${run.thresholds.length - failed} / ${run.thresholds.length}`
          }
          tone={run.thresholds.length === 0 ? undefined : failed > 0 ? 'bad' : 'ok'}
          testId="stress-thresholds-count"
        />
      </div>

      <Panel title={closedLoop ? 'Rate (closed loop: no target rate)' : 'Rate: target, sent, answered'}>
        <RateChart
          series={run.series}
          durationS={run.durationS}
          warmupS={run.warmupS}
          closedLoop={closedLoop}
        />
        {run.resolutionS > 1 && <p className="muted small">One point per {run.resolutionS} s.</p>}
      </Panel>
      <Panel title="Latency per second (from intended send time)">
        <LatencyChart
          series={run.series}
          thresholds={run.thresholds}
          durationS={run.durationS}
          warmupS={run.warmupS}
        />
      </Panel>
      <Panel title="Errors and late requests per second">
        <ErrorsChart series={run.series} durationS={run.durationS} warmupS={run.warmupS} />
      </Panel>

      <div className="chart-pair chart-pair-2">
        <Panel title={figures?.final ? 'Results' : 'Results so far'}>
          <ResultsTable columns={[{ label: 'This run', figures }]} />
        </Panel>
        <Panel title="Thresholds (on every measured request)">
          <ThresholdsTable thresholds={run.thresholds} />
          {run.definition && (
            <p className="muted small">
              {run.definition.abortOnFail
                ? `Aborts when one fails, judged from ${run.definition.warmupS + run.definition.graceS} s in (warm-up + grace).`
                : 'Judged at the end; the run is not aborted.'}
            </p>
          )}
        </Panel>
      </div>

      <Panel title={`Agents (${run.participants.length})`}>
        <AgentsTable run={run} />
      </Panel>
    </div>
  );
}

function Stat({
  label,
  value,
  testId,
  tone,
  sub,
}: {
  label: string;
  value: ReactNode;
  testId: string;
  tone?: 'ok' | 'bad';
  sub?: ReactNode;
}) {
  return (
    <div className={tone ? `stat stat-${tone}` : 'stat'}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">
        <span data-testid={testId}>{value}</span>
      </div>
      {sub && <div className="stat-sub">{sub}</div>}
    </div>
  );
}

const PARTICIPANT_TONE = {
  assigned: 'muted',
  running: 'info',
  done: 'ok',
  refused: 'bad',
  lost: 'warn',
} as const;

function AgentsTable({ run }: { run: StressRun }) {
  if (run.participants.length === 0) return <EmptyState>No agents took part.</EmptyState>;
  return (
    <div className="table-wrap">
      <table className="table table-compact" data-testid="stress-agents">
        <thead>
          <tr>
            <th>Node</th>
            <th className="num">Replicas</th>
            <th className="num">Share</th>
            <th>State</th>
            <th className="num">Reports</th>
            <th className="num">Sent (measured)</th>
            <th className="num">Errors</th>
            <th className="num">p95</th>
            <th>Note</th>
          </tr>
        </thead>
        <tbody>
          {run.participants.map((p) => (
            <tr key={p.nodeId} data-testid="stress-agent-row" data-state={p.state}>
              <td>
                <Link href={`/nodes/${p.nodeId}`} className="mono">
                  {p.hostname}
                </Link>
              </td>
              <td className="num">{p.replicas}</td>
              <td className="num">{(p.share * 100).toFixed(1)} %</td>
              <td>
                <Badge tone={PARTICIPANT_TONE[p.state]}>{p.state}</Badge>
              </td>
              <td className="num">{fmtInt(p.reports)}</td>
              <td className="num">{fmtInt(p.sent)}</td>
              <td className="num">{fmtInt(p.errors)}</td>
              <td className="num">{fmtLatency(p.p95)}</td>
              <td className="small">{p.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CapacitySearchView({ run }: { run: StressRun }) {
  const capacity = run.capacity!;
  const curve = capacity.results;
  return (
    <div className="page" data-testid="capacity-search" data-state={run.state}>
      <Breadcrumb />
      <Header run={run}>
        {curve?.currentStepId && (
          <p className="muted" data-testid="capacity-current">
            Measuring {fmtRate(curve.currentRps)} req/s now:{' '}
            <Link href={`/stress/${curve.currentStepId}`} className="link-strong">
              follow the step live
            </Link>
          </p>
        )}
      </Header>
      <div className="stats">
        <Stat
          label="Highest rate within the SLO"
          value={curve?.bestRps == null ? '—' : `${fmtRate(curve.bestRps)} req/s`}
          tone={run.state === 'passed' ? 'ok' : run.state === 'failed' ? 'bad' : undefined}
          testId="capacity-best"
          sub={
            curve?.bestRps != null && curve.bestRps >= capacity.definition.maxRps
              ? 'the SLO held up to the highest rate asked for'
              : undefined
          }
        />
        <Stat
          label="SLO p95"
          value={fmtLatency(curve?.sloP95Ms ?? capacity.definition.sloP95Ms)}
          testId="capacity-slo"
        />
        <Stat label="Steps" value={capacity.steps.length} testId="capacity-steps" />
        <Stat
          label="Error budget"
          value={fmtShare(capacity.definition.errorBudgetPct)}
          testId="capacity-budget"
        />
      </div>
      <Panel title="Latency against throughput">
        <CapacityCurve curve={curve} />
      </Panel>
      <Panel title="Steps">
        {!curve || curve.points.length === 0 ? (
          <EmptyState>No step has ended yet.</EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table table-compact" data-testid="capacity-points">
              <thead>
                <tr>
                  <th className="num">Target</th>
                  <th className="num">Sent</th>
                  <th className="num">p50</th>
                  <th className="num">p95</th>
                  <th className="num">p99</th>
                  <th className="num">Errors</th>
                  <th>Verdict</th>
                  <th>Note</th>
                </tr>
              </thead>
              <tbody>
                {curve.points.map((p) => (
                  <tr key={p.stepRunId} data-testid="capacity-point" data-ok={String(p.ok)}>
                    <td className="num">
                      <Link href={`/stress/${p.stepRunId}`} className="link-strong">
                        {fmtRate(p.targetRps)} req/s
                      </Link>
                    </td>
                    <td className="num">{fmtRate(p.achievedRps)}</td>
                    <td className="num">{fmtLatency(p.p50)}</td>
                    <td className="num">{fmtLatency(p.p95)}</td>
                    <td className="num">{fmtLatency(p.p99)}</td>
                    <td className="num">{fmtShare(p.errorsPct)}</td>
                    <td>
                      <Badge tone={p.ok ? 'ok' : 'bad'}>{p.ok ? 'within SLO' : 'over'}</Badge>
                      {!p.stable && (
                        <>
                          {' '}
                          <Badge tone="warn">unstable</Badge>
                        </>
                      )}
                      {p.extended && (
                        <>
                          {' '}
                          <Badge tone="muted">re-measured</Badge>
                        </>
                      )}
                    </td>
                    <td className="small">{p.why ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
    </div>
  );
}
