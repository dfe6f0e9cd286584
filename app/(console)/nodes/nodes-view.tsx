'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useMemo } from 'react';
import { fmtAgo, fmtPct, mean } from '@/components/format';
import { useLive, useLiveValue, useNodeStatuses } from '@/components/live/use-live';
import { type NodeView, useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState, NODE_STATUS_TONE, Panel, QueryView, UtilBar } from '@/components/ui/states';
import type { GpuLivePoint } from '@/lib/protocol/live';

export function NodesView() {
  const trpc = useTRPC();
  useLive('fleet');
  const nodes = useQuery(trpc.fleet.nodes.queryOptions(undefined, { refetchInterval: 10_000 }));
  const frame = useLiveValue('fleet:gpus');
  const statuses = useNodeStatuses();
  const livePoints = useMemo(() => (frame ? new Map(frame.gpus.map((p) => [p.id, p])) : null), [frame]);

  return (
    <div className="page">
      <div className="page-header">
        <h1>Nodes</h1>
        {nodes.data && (
          <span className="muted">
            {nodes.data.length} nodes · {nodes.data.reduce((s, n) => s + n.gpuCount, 0)} GPUs
          </span>
        )}
      </div>
      <Panel>
        <QueryView query={nodes} loadingLabel="Loading nodes…">
          {(list) =>
            list.length === 0 ? (
              <EmptyState>No nodes have enrolled yet — waiting for telemetry…</EmptyState>
            ) : (
              <NodesTable nodes={list} livePoints={livePoints} statuses={statuses} />
            )
          }
        </QueryView>
        {nodes.data && nodes.error && (
          <p className="inline-error">Could not refresh: {nodes.error.message}</p>
        )}
      </Panel>
    </div>
  );
}

function NodesTable({
  nodes,
  livePoints,
  statuses,
}: {
  nodes: NodeView[];
  livePoints: Map<string, GpuLivePoint> | null;
  statuses: ReadonlyMap<string, { status: NodeView['status'] }>;
}) {
  const now = Date.now();
  return (
    <div className="table-wrap">
      <table className="table" data-testid="nodes-table">
        <thead>
          <tr>
            <th>Hostname</th>
            <th>Cluster</th>
            <th>Status</th>
            <th className="num">GPUs</th>
            <th>GPU utilization</th>
            <th className="num">Mean util</th>
            <th>Agent</th>
            <th>Last heartbeat</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((node) => {
            const status = statuses.get(node.id)?.status ?? node.status;
            const points = node.gpus.map((g) => (livePoints ? livePoints.get(g.id) : (g.live ?? undefined)));
            const utils = points.filter((p): p is GpuLivePoint => p !== undefined).map((p) => p.util);
            const meanUtil = livePoints ? mean(utils) : node.meanUtilizationPct;
            const cordonedGpus = node.gpus.filter((g) => g.cordonedBy === 'gpu').length;
            return (
              <tr key={node.id} data-testid={`node-row-${node.hostname}`} data-status={status}>
                <td>
                  <Link href={`/nodes/${node.id}`} className="link-strong">
                    {node.hostname}
                  </Link>
                </td>
                <td>{node.clusterName}</td>
                <td>
                  <Badge tone={NODE_STATUS_TONE[status] ?? 'muted'}>{status}</Badge>
                  {node.cordoned && (
                    <>
                      {' '}
                      <Badge tone="warn">cordoned</Badge>
                    </>
                  )}
                  {!node.cordoned && cordonedGpus > 0 && (
                    <>
                      {' '}
                      <span data-testid={`node-cordoned-gpus-${node.hostname}`}>
                        <Badge tone="warn">
                          {cordonedGpus} {cordonedGpus === 1 ? 'GPU' : 'GPUs'} cordoned
                        </Badge>
                      </span>
                    </>
                  )}
                </td>
                <td className="num">{node.gpuCount}</td>
                <td>
                  <span className="gpu-bars">
                    {node.gpus.map((g, i) => {
                      const p = points[i];
                      return (
                        <UtilBar
                          key={g.id}
                          value={p?.util}
                          title={`GPU ${g.index}: ${p ? fmtPct(p.util) : 'no data'}${g.owner ? ` · ${g.owner.name}` : ''}${g.cordoned ? ' · cordoned' : ''}`}
                          vertical
                        />
                      );
                    })}
                  </span>
                </td>
                <td className="num">{fmtPct(meanUtil, 1)}</td>
                <td className="mono small">{node.agentVersion ?? '—'}</td>
                <td className="small">{fmtAgo(node.lastHeartbeatAt, now)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
