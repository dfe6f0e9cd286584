'use client';

import { LatencyChart, type LatencyChartDeployment } from '@/components/charts/latency-chart';
import type { ChartWindow } from '@/components/charts/window-selector';
import { EmptyState } from '@/components/ui/states';

/** One latency chart per deployment, in a responsive grid, all over the same window. */
export function LatencyGrid({
  deployments,
  window = 'live',
}: {
  deployments: readonly LatencyChartDeployment[];
  window?: ChartWindow;
}) {
  if (deployments.length === 0) return <EmptyState>No deployments yet.</EmptyState>;
  return (
    <div className="chart-grid">
      {deployments.map((d) => (
        <LatencyChart
          key={d.id}
          deployment={{ id: d.id, name: d.name, sloP95Ms: d.sloP95Ms }}
          window={window}
        />
      ))}
    </div>
  );
}
