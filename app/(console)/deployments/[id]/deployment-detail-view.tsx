'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { type ReactNode, useMemo, useState } from 'react';
import { LatencyChartView } from '@/components/charts/latency-chart';
import { CHART_COLORS, MetricChart, niceCeil } from '@/components/charts/metric-chart';
import { useLatencySeries } from '@/components/charts/use-series';
import {
  type ChartWindow,
  WINDOW_LABEL,
  WindowSelector,
  windowCaption,
} from '@/components/charts/window-selector';
import { IDLE_ALLOCATED_AFTER_MS } from '@/components/fleet/heatmap-filters';
import {
  fmtCelsius,
  fmtDuration,
  fmtInt,
  fmtMemory,
  fmtMs,
  fmtPct,
  fmtRate,
  fmtWatts,
} from '@/components/format';
import { useLiveRooms, useLiveValue } from '@/components/live/use-live';
import { useLiveGpuPoints } from '@/components/live/use-live-gpus';
import { type DeploymentDetail, useTRPC } from '@/components/trpc/client';
import {
  Badge,
  EmptyState,
  ErrorState,
  GPU_HEALTH_TONE,
  Loading,
  Panel,
  UtilBar,
} from '@/components/ui/states';
import type { LiveRoom } from '@/lib/protocol/live';

export function DeploymentDetailView({ id }: { id: string }) {
  const trpc = useTRPC();
  const deployment = useQuery(trpc.fleet.deployment.queryOptions({ id }, { refetchInterval: 15_000 }));

  if (!deployment.data) {
    return (
      <div className="page">
        <Breadcrumb />
        {deployment.error ? (
          <ErrorState error={deployment.error} title="Could not load this deployment" />
        ) : (
          <Loading label="Loading deployment…" />
        )}
      </div>
    );
  }
  return (
    <DeploymentDetailLoaded
      key={deployment.data.id}
      deployment={deployment.data}
      refreshError={deployment.error}
    />
  );
}

function Breadcrumb({ name }: { name?: string }) {
  return (
    <nav className="breadcrumb" aria-label="Breadcrumb">
      <Link href="/deployments">← Deployments</Link>
      {name && <span aria-hidden="true"> / </span>}
      {name && <span>{name}</span>}
    </nav>
  );
}

function DeploymentDetailLoaded({
  deployment: d,
  refreshError,
}: {
  deployment: DeploymentDetail;
  refreshError: { message: string } | null;
}) {
  // Latency from the deployment's room; GPU samples from the rooms of the nodes it runs on.
  const rooms = useMemo(
    () => [
      `deployment:${d.id}` as LiveRoom,
      ...new Set(d.gpuList.map((g) => `node:${g.nodeId}` as LiveRoom)),
    ],
    [d.id, d.gpuList],
  );
  useLiveRooms(rooms);
  const [window, setWindow] = useState<ChartWindow>('live');
  const series = useLatencySeries(d.id, window);

  const latency = useLiveValue('deployment:latency');
  const live = latency?.find((p) => p.deploymentId === d.id) ?? d.live;
  const p95 = live?.p95 ?? null;
  const within = p95 === null ? null : p95 <= d.sloP95Ms;

  const chartEmpty = series.error ? (
    <span className="inline-error">Could not load history: {series.error.message}</span>
  ) : series.isPending && window !== 'live' ? (
    'Loading…'
  ) : window === 'live' ? (
    'Waiting for telemetry…'
  ) : (
    `Nothing stored for the last ${WINDOW_LABEL[window]}.`
  );

  return (
    <div className="page">
      <Breadcrumb name={d.name} />
      <div className="node-header">
        <div>
          <h1 data-testid="deployment-title">{d.name}</h1>
          <div className="node-meta">
            <span>
              <span className="muted">Model</span> {d.modelName}
            </span>
            <span>
              <span className="muted">Version</span> <span className="mono">{d.version}</span>
            </span>
          </div>
        </div>
      </div>
      {refreshError && (
        <p className="inline-error">Could not refresh this deployment: {refreshError.message}</p>
      )}

      <div className="stats" data-testid="deployment-headline">
        <Headline label="GPUs" testId="deployment-gpus" value={d.gpus} />
        <Headline
          label="Replicas × GPUs/replica"
          testId="deployment-replicas"
          value={`${d.replicas} × ${d.gpusPerReplica}`}
        />
        <Headline label="Min / max GPUs" testId="deployment-min-max" value={`${d.minGpus} / ${d.maxGpus}`} />
        <Headline label="Priority" testId="deployment-priority" value={d.priority} />
        <Headline label="SLO p95" testId="deployment-slo" value={fmtMs(d.sloP95Ms)} />
        <Headline
          label="Live p95"
          testId="deployment-live-p95"
          value={fmtMs(p95)}
          tone={within === null ? undefined : within ? 'ok' : 'bad'}
          sub={
            within === null ? (
              <Badge tone="muted">no data</Badge>
            ) : (
              <span data-testid="deployment-slo-state">
                <Badge tone={within ? 'ok' : 'bad'}>{within ? 'within SLO' : 'over SLO'}</Badge>
              </span>
            )
          }
        />
      </div>

      <Panel
        title="Traffic"
        actions={
          <span className="panel-actions-row">
            <span className="muted">{windowCaption(window)}</span>
            <WindowSelector value={window} onChange={setWindow} />
          </span>
        }
      >
        <div className="chart-stack">
          <LatencyChartView
            deployment={{ id: d.id, name: d.name, sloP95Ms: d.sloP95Ms }}
            window={window}
            height={240}
            series={series}
            linkTitle={false}
          />
          <div className="chart-pair">
            <section className="chart-block">
              <h3 className="chart-title">Throughput (req/s)</h3>
              <MetricChart
                testId="deployment-throughput-chart"
                data={series.points}
                series={[
                  { key: 'requestsPerSecond', name: 'requests/s', color: CHART_COLORS.teal, width: 2 },
                ]}
                window={window}
                yMax={(max: number) => niceCeil(max * 1.1)}
                formatValue={(v) => `${fmtRate(v)} req/s`}
                empty={chartEmpty}
              />
            </section>
            <section className="chart-block">
              <h3 className="chart-title">Errors (req/s)</h3>
              <MetricChart
                testId="deployment-errors-chart"
                data={series.points}
                series={[{ key: 'errorsPerSecond', name: 'errors/s', color: CHART_COLORS.red, width: 2 }]}
                window={window}
                yMax={(max: number) => niceCeil(Math.max(max * 1.1, 1))}
                formatValue={(v) => `${v.toFixed(2)} req/s`}
                empty={chartEmpty}
              />
            </section>
            <section className="chart-block">
              <h3 className="chart-title">Queue depth</h3>
              <MetricChart
                testId="deployment-queue-chart"
                data={series.points}
                series={[
                  { key: 'queueDepth', name: 'queued requests', color: CHART_COLORS.violet, width: 2 },
                ]}
                window={window}
                yMax={(max: number) => niceCeil(Math.max(max * 1.1, 1))}
                formatValue={(v) => (v >= 10 ? fmtInt(v) : v.toFixed(1))}
                empty={chartEmpty}
              />
            </section>
          </div>
        </div>
      </Panel>

      <Panel title={`GPUs (${d.gpuList.length})`}>
        <DeploymentGpus gpus={d.gpuList} />
      </Panel>
    </div>
  );
}

function Headline({
  label,
  value,
  testId,
  sub,
  tone,
}: {
  label: string;
  value: ReactNode;
  testId: string;
  sub?: ReactNode;
  tone?: 'ok' | 'bad';
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

function DeploymentGpus({ gpus }: { gpus: DeploymentDetail['gpuList'] }) {
  const ids = useMemo(() => new Set(gpus.map((g) => g.id)), [gpus]);
  const points = useLiveGpuPoints(ids, gpus);
  if (gpus.length === 0) return <EmptyState>This deployment holds no GPUs.</EmptyState>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="deployment-gpus-table">
        <thead>
          <tr>
            <th>Node</th>
            <th className="num">GPU</th>
            <th>Model</th>
            <th>Health</th>
            <th>Utilization</th>
            <th className="num">Memory</th>
            <th className="num">Power</th>
            <th className="num">Temp</th>
            <th className="num">Idle for</th>
          </tr>
        </thead>
        <tbody>
          {gpus.map((g) => {
            const p = points.get(g.id);
            const idleLong = g.idleForMs !== null && g.idleForMs >= IDLE_ALLOCATED_AFTER_MS;
            return (
              <tr key={g.id} data-testid="deployment-gpu-row" className={idleLong ? 'row-idle' : undefined}>
                <td>
                  <Link href={`/nodes/${g.nodeId}`} className="mono">
                    {g.hostname}
                  </Link>
                </td>
                <td className="num">
                  <Link href={`/gpus/${g.id}`} className="link-strong">
                    GPU {g.index}
                  </Link>
                </td>
                <td className="small">{g.modelName}</td>
                <td>
                  <Badge tone={GPU_HEALTH_TONE[g.health] ?? 'muted'}>{g.health}</Badge>
                  {g.cordoned && (
                    <>
                      {' '}
                      <Badge tone="warn">cordoned</Badge>
                    </>
                  )}
                </td>
                <td>
                  <span className="util-cell">
                    <UtilBar value={p?.util} />
                    <span className="num">{p ? fmtPct(p.util) : 'no data'}</span>
                  </span>
                </td>
                <td className="num">{fmtMemory(p?.memUsedMiB, p?.memTotalMiB ?? g.memoryTotalMiB)}</td>
                <td className="num">{fmtWatts(p?.powerW)}</td>
                <td className="num">{fmtCelsius(p?.tempC)}</td>
                <td className={idleLong ? 'num text-warn' : 'num'}>{fmtDuration(g.idleForMs)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
