'use client';

import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { LatencyGrid } from '@/components/charts/latency-grid';
import { type ChartWindow, WindowSelector, windowCaption } from '@/components/charts/window-selector';
import { FleetStats } from '@/components/fleet/fleet-stats';
import { GpuHeatmap } from '@/components/fleet/gpu-heatmap';
import { IdleGpusPanel } from '@/components/fleet/idle-gpus-panel';
import { useLive, useLiveValue } from '@/components/live/use-live';
import { useTRPC } from '@/components/trpc/client';
import { ErrorState, Loading, Panel, QueryView } from '@/components/ui/states';
import type { FleetSummary } from '@/lib/protocol/live';

export function OverviewView() {
  const trpc = useTRPC();
  useLive('fleet');
  const overview = useQuery(trpc.fleet.overview.queryOptions());
  const deployments = useQuery(trpc.fleet.deployments.queryOptions(undefined, { refetchInterval: 15_000 }));
  const [window, setWindow] = useState<ChartWindow>('live');

  return (
    <div className="page">
      <div className="page-header">
        <h1>Fleet overview</h1>
      </div>
      <LiveFleetStats initial={overview.data?.summary} error={overview.error} />
      <Panel title="GPU utilization">
        <GpuHeatmap />
      </Panel>
      <IdleGpusPanel />
      <Panel
        title="Deployment latency"
        actions={
          <span className="panel-actions-row">
            <span className="muted">p50 / p95 / p99, {windowCaption(window)}</span>
            <WindowSelector value={window} onChange={setWindow} />
          </span>
        }
      >
        <QueryView query={deployments} loadingLabel="Loading deployments…">
          {(list) => <LatencyGrid deployments={list} window={window} />}
        </QueryView>
      </Panel>
    </div>
  );
}

/** The headline figures: the query's summary first, then every `fleet:summary` that is newer. */
function LiveFleetStats({
  initial,
  error,
}: {
  initial: FleetSummary | undefined;
  error: { message: string } | null;
}) {
  const live = useLiveValue('fleet:summary');
  const summary = live && (!initial || live.at >= initial.at) ? live : initial;
  if (summary) return <FleetStats summary={summary} />;
  if (error) return <ErrorState error={error} title="Could not load the fleet summary" />;
  return <Loading label="Loading fleet summary…" />;
}
