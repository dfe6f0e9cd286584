'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { type ReactNode, useState } from 'react';
import { GpuCharts } from '@/components/charts/gpu-charts';
import { type ChartWindow, WindowSelector, windowCaption } from '@/components/charts/window-selector';
import { CordonControl } from '@/components/fleet/cordon-control';
import { IDLE_ALLOCATED_AFTER_MS } from '@/components/fleet/heatmap-filters';
import { fmtCelsius, fmtDuration, fmtGiB, fmtMHz, fmtPct, fmtWatts } from '@/components/format';
import { useLive, useLiveValue } from '@/components/live/use-live';
import { type GpuView, useTRPC } from '@/components/trpc/client';
import { Badge, ErrorState, GPU_HEALTH_TONE, Loading, Panel, UtilBar } from '@/components/ui/states';

export function GpuDetailView({ id }: { id: string }) {
  const trpc = useTRPC();
  const gpu = useQuery(trpc.fleet.gpu.queryOptions({ id }, { refetchInterval: 15_000 }));
  // The node's room carries this GPU's live samples.
  useLive(gpu.data ? `node:${gpu.data.nodeId}` : null);

  if (!gpu.data) {
    return (
      <div className="page">
        <Breadcrumb />
        {gpu.error ? (
          <ErrorState error={gpu.error} title="Could not load this GPU" />
        ) : (
          <Loading label="Loading GPU…" />
        )}
      </div>
    );
  }
  return <GpuDetailLoaded key={gpu.data.id} gpu={gpu.data} refreshError={gpu.error} />;
}

function Breadcrumb({ gpu }: { gpu?: GpuView }) {
  return (
    <nav className="breadcrumb" aria-label="Breadcrumb">
      <Link href="/nodes">← Node list</Link>
      {gpu && (
        <>
          <span aria-hidden="true"> / </span>
          <Link href={`/nodes/${gpu.nodeId}`}>{gpu.hostname}</Link>
          <span aria-hidden="true"> / </span>
          <span>GPU {gpu.index}</span>
        </>
      )}
    </nav>
  );
}

function GpuDetailLoaded({ gpu, refreshError }: { gpu: GpuView; refreshError: { message: string } | null }) {
  const [window, setWindow] = useState<ChartWindow>('live');
  const frame = useLiveValue('fleet:gpus');
  // A frame without this GPU means it has gone silent; before the first frame, the list's sample.
  const point = frame ? (frame.gpus.find((p) => p.id === gpu.id) ?? null) : gpu.live;
  const memTotal = point?.memTotalMiB ?? gpu.memoryTotalMiB;
  const memPct = point && memTotal > 0 ? (point.memUsedMiB / memTotal) * 100 : null;
  const allocatedIdle =
    gpu.owner !== null && gpu.idleForMs !== null && gpu.idleForMs >= IDLE_ALLOCATED_AFTER_MS;

  return (
    <div className="page">
      <Breadcrumb gpu={gpu} />
      <div className="node-header">
        <div>
          <h1 data-testid="gpu-title">
            GPU {gpu.index} <span className="title-sub">on {gpu.hostname}</span>
          </h1>
          <div className="mono small muted gpu-uuid" data-testid="gpu-uuid">
            {gpu.uuid}
          </div>
          <div className="node-meta">
            <Badge tone={GPU_HEALTH_TONE[gpu.health] ?? 'muted'}>
              <span data-testid="gpu-health">{gpu.health}</span>
            </Badge>
            <Badge tone={gpu.cordoned ? 'warn' : 'ok'}>
              <span data-testid="cordon-state">{gpu.cordoned ? 'cordoned' : 'schedulable'}</span>
            </Badge>
            {gpu.cordonedBy === 'node' && <span className="muted small">with its whole node</span>}
            {allocatedIdle && <Badge tone="warn">idle {fmtDuration(gpu.idleForMs)}</Badge>}
            <span>
              <span className="muted">Model</span> {gpu.modelName}
            </span>
            <span>
              <span className="muted">Node</span>{' '}
              <Link href={`/nodes/${gpu.nodeId}`} className="mono" data-testid="gpu-node-link">
                {gpu.hostname}
              </Link>
            </span>
            <span>
              <span className="muted">Cluster</span> {gpu.clusterName}
            </span>
            <span>
              <span className="muted">Owner</span>{' '}
              {gpu.owner ? (
                gpu.owner.kind === 'deployment' ? (
                  <Link href={`/deployments/${gpu.owner.id}`} data-testid="gpu-owner-link">
                    {gpu.owner.name}
                  </Link>
                ) : (
                  <>
                    {gpu.owner.name} <span className="muted small">job</span>
                  </>
                )
              ) : (
                <span className="muted">unallocated</span>
              )}
            </span>
          </div>
        </div>
        <div className="header-actions">
          {gpu.cordonedBy === 'node' ? (
            <p className="muted small header-note">
              Its node is cordoned: uncordon it on the <Link href={`/nodes/${gpu.nodeId}`}>node page</Link>.
            </p>
          ) : (
            <CordonControl target={{ kind: 'gpu', gpuId: gpu.id }} cordoned={gpu.cordoned} />
          )}
        </div>
      </div>
      {refreshError && <p className="inline-error">Could not refresh this GPU: {refreshError.message}</p>}

      <div className="tiles" data-testid="gpu-live-tiles">
        <Tile label="Utilization" testId="gpu-live-util" value={fmtPct(point?.util)}>
          <UtilBar value={point?.util} />
        </Tile>
        <Tile
          label="Memory"
          testId="gpu-live-memory"
          value={point ? `${fmtGiB(point.memUsedMiB)} GiB` : '—'}
          sub={`of ${fmtGiB(memTotal)} GiB${memPct === null ? '' : ` · ${memPct.toFixed(0)} %`}`}
        />
        <Tile label="Power" testId="gpu-live-power" value={fmtWatts(point?.powerW)} />
        <Tile label="Temperature" testId="gpu-live-temp" value={fmtCelsius(point?.tempC)} />
        <Tile label="SM clock" testId="gpu-live-sm-clock" value={fmtMHz(point?.smClockMHz)} />
      </div>
      {frame && !point && <p className="muted small">No sample from this GPU in the last few seconds.</p>}

      <Panel
        title="History"
        actions={
          <span className="panel-actions-row">
            <span className="muted">{windowCaption(window)}</span>
            <WindowSelector value={window} onChange={setWindow} />
          </span>
        }
      >
        <GpuCharts gpuId={gpu.id} memoryTotalMiB={gpu.memoryTotalMiB} window={window} />
      </Panel>
    </div>
  );
}

function Tile({
  label,
  value,
  sub,
  testId,
  children,
}: {
  label: string;
  value: string;
  sub?: string;
  testId: string;
  children?: ReactNode;
}) {
  return (
    <div className="tile">
      <div className="stat-label">{label}</div>
      <div className="tile-value" data-testid={testId}>
        {value}
      </div>
      {children}
      {sub && <div className="stat-sub">{sub}</div>}
    </div>
  );
}
