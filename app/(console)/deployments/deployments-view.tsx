'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useMemo, useState } from 'react';
import { LatencyGrid } from '@/components/charts/latency-grid';
import { type ChartWindow, WindowSelector, windowCaption } from '@/components/charts/window-selector';
import { fmtInt, fmtMs, fmtRate } from '@/components/format';
import { useLive, useLiveValue } from '@/components/live/use-live';
import { type DeploymentView, useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState, Panel, QueryView } from '@/components/ui/states';
import type { LatencyPoint } from '@/lib/protocol/live';

export function DeploymentsView() {
  const trpc = useTRPC();
  useLive('fleet');
  const deployments = useQuery(trpc.fleet.deployments.queryOptions(undefined, { refetchInterval: 15_000 }));
  const [window, setWindow] = useState<ChartWindow>('live');

  return (
    <div className="page">
      <div className="page-header">
        <h1>Deployments</h1>
        {deployments.data && <span className="muted">{deployments.data.length} deployments</span>}
      </div>
      <Panel>
        <QueryView query={deployments} loadingLabel="Loading deployments…">
          {(list) =>
            list.length === 0 ? (
              <EmptyState>No deployments yet.</EmptyState>
            ) : (
              <DeploymentsTable deployments={list} />
            )
          }
        </QueryView>
        {deployments.data && deployments.error && (
          <p className="inline-error">Could not refresh: {deployments.error.message}</p>
        )}
      </Panel>
      {deployments.data && deployments.data.length > 0 && (
        <Panel
          title="Latency"
          actions={
            <span className="panel-actions-row">
              <span className="muted">p50 / p95 / p99, {windowCaption(window)}</span>
              <WindowSelector value={window} onChange={setWindow} />
            </span>
          }
        >
          <LatencyGrid deployments={deployments.data} window={window} />
        </Panel>
      )}
    </div>
  );
}

/** The table re-renders on each `deployment:latency`; the page around it does not. */
function DeploymentsTable({ deployments }: { deployments: DeploymentView[] }) {
  const latency = useLiveValue('deployment:latency');
  const liveById = useMemo(
    () => new Map<string, LatencyPoint>((latency ?? []).map((p) => [p.deploymentId, p])),
    [latency],
  );
  return (
    <div className="table-wrap">
      <table className="table" data-testid="deployments-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Model</th>
            <th className="num">GPUs</th>
            <th className="num">Replicas × GPUs</th>
            <th className="num">Min / max</th>
            <th className="num">Priority</th>
            <th className="num">SLO p95</th>
            <th className="num">Live p95</th>
            <th>SLO</th>
            <th className="num">Req/s</th>
            <th className="num">Queue</th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => {
            const live = liveById.get(d.id) ?? d.live;
            const p95 = live?.p95 ?? null;
            const within = p95 === null ? null : p95 <= d.sloP95Ms;
            return (
              <tr key={d.id} data-testid={`deployment-row-${d.name}`}>
                <td>
                  <Link href={`/deployments/${d.id}`} className="link-strong">
                    {d.name}
                  </Link>
                </td>
                <td className="small">{d.modelName}</td>
                <td className="num">{d.gpus}</td>
                <td className="num">
                  {d.replicas} × {d.gpusPerReplica}
                </td>
                <td className="num">
                  {d.minGpus} / {d.maxGpus}
                </td>
                <td className="num">{d.priority}</td>
                <td className="num">{fmtMs(d.sloP95Ms)}</td>
                <td className={within === false ? 'num text-bad strong' : 'num'}>{fmtMs(p95)}</td>
                <td>
                  {within === null ? (
                    <Badge tone="muted">no data</Badge>
                  ) : within ? (
                    <Badge tone="ok">within</Badge>
                  ) : (
                    <Badge tone="bad">over</Badge>
                  )}
                </td>
                <td className="num">{fmtRate(live?.requestsPerSecond)}</td>
                <td className="num">{fmtInt(live?.queueDepth)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
