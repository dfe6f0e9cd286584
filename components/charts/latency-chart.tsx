'use client';

import Link from 'next/link';
import { CHART_COLORS, MetricChart, niceCeil } from '@/components/charts/metric-chart';
import { useLatencySeries } from '@/components/charts/use-series';
import { type ChartWindow, WINDOW_LABEL } from '@/components/charts/window-selector';
import { fmtMs } from '@/components/format';
import { Badge } from '@/components/ui/states';

/**
 * A deployment's p50 / p95 / p99 against its p95 SLO over a window. Live: the last five
 * minutes, pre-filled from the stored 10 s rollups, then one point per second from
 * `deployment:latency` (the page must have joined `fleet` or `deployment:<id>`). Other
 * windows: the stored rollups, with the whole window's percentiles in the header.
 */

export type LatencyChartDeployment = { id: string; name: string; sloP95Ms: number };

const SERIES = [
  { key: 'p50', color: CHART_COLORS.blue, name: 'p50' },
  { key: 'p95', color: CHART_COLORS.amber, name: 'p95', width: 2 },
  { key: 'p99', color: CHART_COLORS.violet, name: 'p99' },
] as const;

export function LatencyChart({
  deployment,
  window = 'live',
  height = 200,
}: {
  deployment: LatencyChartDeployment;
  window?: ChartWindow;
  height?: number;
}) {
  const series = useLatencySeries(deployment.id, window);
  return <LatencyChartView deployment={deployment} window={window} height={height} series={series} />;
}

export function LatencyChartView({
  deployment,
  window,
  height = 200,
  series,
  linkTitle = true,
}: {
  deployment: LatencyChartDeployment;
  window: ChartWindow;
  height?: number;
  series: ReturnType<typeof useLatencySeries>;
  /** The title opens the deployment's page (not on that page itself). */
  linkTitle?: boolean;
}) {
  const { points, summary } = series;
  const slo = deployment.sloP95Ms;
  let lastP95: number | null = null;
  for (let i = points.length - 1; i >= 0 && lastP95 === null; i--) lastP95 = points[i]!.p95;
  // Live: the latest p95 against the SLO; a stored window: the whole window's p95.
  const shownP95 = window === 'live' ? lastP95 : (summary?.p95 ?? null);
  const over = shownP95 !== null && shownP95 > slo;

  return (
    <figure
      className={over ? 'latency-chart over-slo' : 'latency-chart'}
      data-testid={`latency-chart-${deployment.name}`}
      data-points={points.length}
      data-window={window}
      data-last-p95={lastP95 === null ? '' : Math.round(lastP95)}
    >
      <figcaption className="latency-chart-header">
        {linkTitle ? (
          <Link href={`/deployments/${deployment.id}`} className="latency-chart-title link-strong">
            {deployment.name}
          </Link>
        ) : (
          <span className="latency-chart-title">{deployment.name}</span>
        )}
        <span className="latency-chart-now">
          {window === 'live' ? (
            <span className={over ? 'p95-value over' : 'p95-value'}>p95 {fmtMs(lastP95)}</span>
          ) : (
            <span
              className="latency-summary"
              data-testid="latency-summary"
              data-p50={summary?.p50 ?? ''}
              data-p95={summary?.p95 ?? ''}
              data-p99={summary?.p99 ?? ''}
            >
              <span className="muted">p50 {fmtMs(summary?.p50)} · </span>
              <span className={over ? 'p95-value over' : 'p95-value'}>
                p95 over {WINDOW_LABEL[window]}: {fmtMs(summary?.p95)}
              </span>
              <span className="muted"> · p99 {fmtMs(summary?.p99)}</span>
            </span>
          )}
          <span className="muted"> / SLO {fmtMs(slo)}</span>
          {shownP95 !== null && <Badge tone={over ? 'bad' : 'ok'}>{over ? 'over SLO' : 'within SLO'}</Badge>}
        </span>
      </figcaption>
      <MetricChart
        testId={`latency-series-${deployment.name}`}
        data={points}
        series={SERIES}
        window={window}
        height={height}
        // Room above the SLO line (and the data) for the SLO label.
        yMax={(dataMax: number) => niceCeil(Math.max(dataMax, slo) * 1.15)}
        formatValue={fmtMs}
        formatTick={(v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)} s` : `${v}`)}
        reference={{ y: slo, label: `SLO ${slo} ms`, color: CHART_COLORS.red }}
        legend
        empty={
          series.error ? (
            <span className="inline-error">Could not load latency history: {series.error.message}</span>
          ) : series.isPending ? (
            'Loading latency…'
          ) : window === 'live' ? (
            'Waiting for telemetry…'
          ) : (
            `No latency stored for the last ${WINDOW_LABEL[window]}.`
          )
        }
      />
      {points.length > 0 && series.error && (
        <span className="inline-error">History unavailable: {series.error.message}</span>
      )}
    </figure>
  );
}
