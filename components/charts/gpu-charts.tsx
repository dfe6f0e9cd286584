'use client';

import { useMemo } from 'react';
import { CHART_COLORS, MetricChart, niceCeil } from '@/components/charts/metric-chart';
import { useGpuSeries } from '@/components/charts/use-series';
import { type ChartWindow, WINDOW_LABEL } from '@/components/charts/window-selector';

/**
 * One GPU's utilization (mean as a line, min–max of each stored bucket as a band), memory,
 * power, temperature and SM clock over a window.
 */
export function GpuCharts({
  gpuId,
  memoryTotalMiB,
  window,
}: {
  gpuId: string;
  memoryTotalMiB: number;
  window: ChartWindow;
}) {
  const series = useGpuSeries(gpuId, window);
  const { points } = series;
  const empty = series.error ? (
    <span className="inline-error">Could not load history: {series.error.message}</span>
  ) : series.isPending && window !== 'live' ? (
    'Loading…'
  ) : window === 'live' ? (
    'Waiting for telemetry…'
  ) : (
    `Nothing stored for the last ${WINDOW_LABEL[window]}.`
  );
  const hasBand = points.some((p) => p.utilRange !== null);
  // Memory in GiB, on an axis that ends at the GPU's capacity (rounded up to a multiple of 8).
  const memory = useMemo(
    () => points.map((p) => ({ at: p.at, memUsedGiB: p.memUsedMiB === null ? null : p.memUsedMiB / 1024 })),
    [points],
  );
  const memoryMaxGiB = memoryTotalMiB > 0 ? Math.ceil(memoryTotalMiB / 1024 / 8) * 8 : 'auto';

  return (
    <div className="chart-stack">
      <section className="chart-block">
        <h3 className="chart-title">Utilization (%)</h3>
        <MetricChart
          testId="gpu-util-chart"
          data={points}
          series={[
            {
              key: 'util',
              name: window === 'live' ? 'utilization' : 'mean',
              color: CHART_COLORS.blue,
              width: 2,
            },
          ]}
          band={hasBand ? { key: 'utilRange', name: 'min – max', color: CHART_COLORS.blue } : undefined}
          window={window}
          height={200}
          yMax={100}
          yWidth={52}
          formatValue={(v) => `${v.toFixed(1)} %`}
          formatTick={(v) => `${v} %`}
          empty={empty}
        />
      </section>
      <div className="chart-pair chart-pair-2">
        <section className="chart-block">
          <h3 className="chart-title">Memory used (of {(memoryTotalMiB / 1024).toFixed(1)} GiB)</h3>
          <MetricChart
            testId="gpu-memory-chart"
            data={memory}
            series={[{ key: 'memUsedGiB', name: 'memory used', color: CHART_COLORS.violet, width: 2 }]}
            window={window}
            yMax={memoryMaxGiB}
            formatValue={(v) => `${v.toFixed(1)} GiB`}
            formatTick={(v) => `${v} GiB`}
            yWidth={60}
            empty={empty}
          />
        </section>
        <section className="chart-block">
          <h3 className="chart-title">Power (W)</h3>
          <MetricChart
            testId="gpu-power-chart"
            data={points}
            series={[{ key: 'powerW', name: 'power', color: CHART_COLORS.amber, width: 2 }]}
            window={window}
            yMax={(max: number) => niceCeil(max * 1.1)}
            formatValue={(v) => `${Math.round(v)} W`}
            empty={empty}
          />
        </section>
        <section className="chart-block">
          <h3 className="chart-title">Temperature (°C)</h3>
          <MetricChart
            testId="gpu-temp-chart"
            data={points}
            series={[{ key: 'temperatureC', name: 'temperature', color: CHART_COLORS.red, width: 2 }]}
            window={window}
            yMax={(max: number) => niceCeil(Math.max(max * 1.1, 50))}
            formatValue={(v) => `${Math.round(v)} °C`}
            empty={empty}
          />
        </section>
        <section className="chart-block">
          <h3 className="chart-title">SM clock (MHz)</h3>
          <MetricChart
            testId="gpu-sm-clock-chart"
            data={points}
            series={[{ key: 'smClockMHz', name: 'SM clock', color: CHART_COLORS.green, width: 2 }]}
            window={window}
            yMax={(max: number) => niceCeil(max * 1.1)}
            formatValue={(v) => `${Math.round(v)} MHz`}
            empty={empty}
          />
        </section>
      </div>
    </div>
  );
}
