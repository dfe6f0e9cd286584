'use client';

import { useQueries, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useEffect, useMemo, useRef, useState } from 'react';
import { NodeIdentityControl } from '@/components/admin/node-identity-control';
import { CHART_COLORS, MetricChart } from '@/components/charts/metric-chart';
import {
  type ChartWindow,
  historyRefetchInterval,
  historyWindowOf,
  WINDOW_LABEL,
  WindowSelector,
} from '@/components/charts/window-selector';
import { CordonControl } from '@/components/fleet/cordon-control';
import { fmtAgo, fmtCelsius, fmtMemory, fmtMHz, fmtPct, fmtWatts, mean } from '@/components/format';
import { useLive, useLiveEvent, useLiveValue, useNodeStatuses } from '@/components/live/use-live';
import { type NodeDetail, useTRPC } from '@/components/trpc/client';
import {
  Badge,
  EmptyState,
  ErrorState,
  GPU_HEALTH_TONE,
  Loading,
  NODE_STATUS_TONE,
  Panel,
  UtilBar,
} from '@/components/ui/states';
import type { GpuLivePoint } from '@/lib/protocol/live';

type UtilPoint = { at: number; util: number | null; utilRange?: [number, number] | null };
/** One point a second: the chart covers the last half hour the page was open. */
const MAX_UTIL_POINTS = 1_800;

export function NodeDetailView({ id }: { id: string }) {
  const trpc = useTRPC();
  useLive(`node:${id}`);
  const node = useQuery(trpc.fleet.node.queryOptions({ id }, { refetchInterval: 15_000 }));

  if (!node.data) {
    return (
      <div className="page">
        <Breadcrumb />
        {node.error ? (
          <ErrorState error={node.error} title="Could not load this node" />
        ) : (
          <Loading label="Loading node…" />
        )}
      </div>
    );
  }
  return <NodeDetailLoaded key={node.data.id} node={node.data} refreshError={node.error} />;
}

function Breadcrumb({ hostname }: { hostname?: string }) {
  return (
    <nav className="breadcrumb" aria-label="Breadcrumb">
      <Link href="/nodes">← Node list</Link>
      {hostname && <span aria-hidden="true"> / </span>}
      {hostname && <span>{hostname}</span>}
    </nav>
  );
}

function NodeDetailLoaded({
  node,
  refreshError,
}: {
  node: NodeDetail;
  refreshError: { message: string } | null;
}) {
  const frame = useLiveValue('fleet:gpus');
  const statuses = useNodeStatuses();
  const status = statuses.get(node.id)?.status ?? node.status;
  const gpuIds = useMemo(() => new Set(node.gpus.map((g) => g.id)), [node.gpus]);

  const livePoints = useMemo(() => {
    const map = new Map<string, GpuLivePoint>();
    if (frame) {
      for (const p of frame.gpus) if (gpuIds.has(p.id)) map.set(p.id, p);
    } else {
      for (const g of node.gpus) if (g.live) map.set(g.id, g.live);
    }
    return map;
  }, [frame, gpuIds, node.gpus]);

  // The node's mean utilization while this page is open, one point per live frame.
  const [utilHistory, setUtilHistory] = useState<UtilPoint[]>([]);
  const seeded = useRef(false);
  useEffect(() => {
    if (seeded.current) return;
    seeded.current = true;
    const initial = mean(node.gpus.flatMap((g) => (g.live ? [g.live.util] : [])));
    if (initial !== null) setUtilHistory([{ at: Date.now(), util: initial }]);
  }, [node.gpus]);
  useLiveEvent('fleet:gpus', (update) => {
    const utils = update.gpus.filter((p) => gpuIds.has(p.id)).map((p) => p.util);
    // A frame of another room (e.g. `fleet` still joined during navigation) without this node's GPUs.
    if (utils.length === 0 && update.gpus.length > 0) return;
    setUtilHistory((prev) => {
      const last = prev[prev.length - 1];
      if (last && update.at <= last.at) return prev;
      const next = [...prev, { at: update.at, util: mean(utils) }];
      return next.length > MAX_UTIL_POINTS ? next.slice(next.length - MAX_UTIL_POINTS) : next;
    });
  });

  const currentMean = mean([...livePoints.values()].map((p) => p.util));
  const labels = Object.entries(node.labels ?? {});

  return (
    <div className="page">
      <Breadcrumb hostname={node.hostname} />
      <div className="node-header">
        <div>
          <h1 data-testid="node-title">{node.hostname}</h1>
          <div className="node-meta">
            <Badge tone={NODE_STATUS_TONE[status] ?? 'muted'}>
              <span data-testid="node-status">{status}</span>
            </Badge>
            <Badge tone={node.cordoned ? 'warn' : 'ok'}>
              <span data-testid="node-cordon-state">{node.cordoned ? 'cordoned' : 'schedulable'}</span>
            </Badge>
            <span>
              <span className="muted">Cluster</span> {node.clusterName}
            </span>
            <span>
              <span className="muted">Agent</span> <span className="mono">{node.agentVersion ?? '—'}</span>
            </span>
            <span>
              <span className="muted">Last heartbeat</span> {fmtAgo(node.lastHeartbeatAt)}
            </span>
          </div>
          {labels.length > 0 && (
            <ul className="labels" aria-label="Labels">
              {labels.map(([k, v]) => (
                <li key={k} className="label-chip">
                  <span className="muted">{k}=</span>
                  {String(v)}
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="header-side">
          <div className="node-header-stat">
            <div className="stat-label">Mean GPU utilization</div>
            <div className="stat-value">
              <span data-testid="node-mean-util">{currentMean === null ? '—' : currentMean.toFixed(1)}</span>
              <span className="stat-unit">%</span>
            </div>
          </div>
          <div className="header-actions">
            <CordonControl target={{ kind: 'node', nodeId: node.id }} cordoned={node.cordoned} />
            <NodeIdentityControl nodeId={node.id} hostname={node.hostname} />
          </div>
        </div>
      </div>
      {refreshError && <p className="inline-error">Could not refresh this node: {refreshError.message}</p>}

      <Panel title={`GPUs (${node.gpus.length})`}>
        {node.gpus.length === 0 ? (
          <EmptyState>This node has reported no GPUs yet — waiting for telemetry…</EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="node-gpus-table">
              <thead>
                <tr>
                  <th className="num">#</th>
                  <th>UUID</th>
                  <th>Model</th>
                  <th>Health</th>
                  <th>Owner</th>
                  <th>Utilization</th>
                  <th className="num">Memory</th>
                  <th className="num">Power</th>
                  <th className="num">Temp</th>
                  <th className="num">SM clock</th>
                </tr>
              </thead>
              <tbody>
                {node.gpus.map((g) => {
                  const p = livePoints.get(g.id);
                  return (
                    <tr
                      key={g.id}
                      data-testid={`gpu-row-${g.index}`}
                      data-cordoned={g.cordoned ? 'true' : 'false'}
                      className={g.cordoned ? 'row-cordoned' : undefined}
                    >
                      <td className="num">
                        <Link href={`/gpus/${g.id}`} className="link-strong" aria-label={`GPU ${g.index}`}>
                          {g.index}
                        </Link>
                      </td>
                      <td className="mono small">
                        <Link href={`/gpus/${g.id}`} data-testid={`gpu-link-${g.index}`}>
                          {g.uuid}
                        </Link>
                      </td>
                      <td className="small">{g.modelName}</td>
                      <td>
                        <Badge tone={GPU_HEALTH_TONE[g.health] ?? 'muted'}>{g.health}</Badge>
                        {g.cordoned && (
                          <>
                            {' '}
                            <span title={g.cordonedBy === 'node' ? 'cordoned with its node' : 'cordoned'}>
                              <Badge tone="warn">
                                {g.cordonedBy === 'node' ? 'cordoned (node)' : 'cordoned'}
                              </Badge>
                            </span>
                          </>
                        )}
                      </td>
                      <td>
                        {g.owner ? <OwnerCell owner={g.owner} /> : <span className="muted">unallocated</span>}
                      </td>
                      <td>
                        <span className="util-cell">
                          <UtilBar value={p?.util} />
                          <span className="num" data-testid={`gpu-util-${g.index}`}>
                            {p ? fmtPct(p.util) : 'no data'}
                          </span>
                        </span>
                      </td>
                      <td className="num">{fmtMemory(p?.memUsedMiB, p?.memTotalMiB ?? g.memoryTotalMiB)}</td>
                      <td className="num">{fmtWatts(p?.powerW)}</td>
                      <td className="num">{fmtCelsius(p?.tempC)}</td>
                      <td className="num">{fmtMHz(p?.smClockMHz)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Panel>

      <NodeUtilPanel gpuIds={node.gpus.map((g) => g.id)} livePoints={utilHistory} />
    </div>
  );
}

function OwnerCell({ owner }: { owner: NonNullable<NodeDetail['gpus'][number]['owner']> }) {
  return (
    <span>
      {owner.kind === 'deployment' ? <Link href={`/deployments/${owner.id}`}>{owner.name}</Link> : owner.name}{' '}
      <span className="muted small">{owner.kind}</span>
    </span>
  );
}

/**
 * The node's mean GPU utilization over a window, with the spread of its GPUs (the lowest
 * minimum to the highest maximum) as a band. Live: one point per frame since the page was
 * opened; other windows: the GPUs' stored rollups, merged per bucket.
 */
function NodeUtilPanel({ gpuIds, livePoints }: { gpuIds: string[]; livePoints: UtilPoint[] }) {
  const trpc = useTRPC();
  const [window, setWindow] = useState<ChartWindow>('live');
  const stored = window !== 'live';
  const histories = useQueries({
    queries: gpuIds.map((gpuId) =>
      trpc.fleet.gpuHistory.queryOptions(
        { gpuId, window: historyWindowOf(window) },
        { enabled: stored, refetchInterval: historyRefetchInterval(window) },
      ),
    ),
  });
  const pending = stored && histories.some((h) => h.isPending);
  const error = histories.find((h) => h.error)?.error ?? null;
  const updatedAt = histories.map((h) => h.dataUpdatedAt).join(',');

  // biome-ignore lint/correctness/useExhaustiveDependencies: `updatedAt` marks a change to any history.
  const merged = useMemo(() => {
    if (!stored) return [];
    const resolutionMs = Math.max(0, ...histories.map((h) => (h.data?.resolutionS ?? 0) * 1000));
    if (resolutionMs === 0) return [];
    const buckets = new Map<number, { sum: number; n: number; min: number; max: number }>();
    for (const h of histories) {
      for (const p of h.data?.points ?? []) {
        const at = Math.floor(p.at / resolutionMs) * resolutionMs;
        const b = buckets.get(at);
        if (b) {
          b.sum += p.utilMean;
          b.n += 1;
          b.min = Math.min(b.min, p.utilMin);
          b.max = Math.max(b.max, p.utilMax);
        } else buckets.set(at, { sum: p.utilMean, n: 1, min: p.utilMin, max: p.utilMax });
      }
    }
    return [...buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([at, b]): UtilPoint => ({ at, util: b.sum / b.n, utilRange: [b.min, b.max] }));
  }, [stored, updatedAt]);

  const points = stored ? merged : livePoints;
  return (
    <Panel
      title="Mean GPU utilization"
      actions={
        <span className="panel-actions-row">
          <span className="muted">
            {stored ? `over ${WINDOW_LABEL[window]}` : 'live, since this page was opened'}
          </span>
          <WindowSelector value={window} onChange={setWindow} />
        </span>
      }
    >
      <MetricChart
        testId="node-util-chart"
        data={points}
        series={[{ key: 'util', name: 'mean util', color: CHART_COLORS.blue, width: 2 }]}
        band={stored ? { key: 'utilRange', name: 'GPU min – max', color: CHART_COLORS.blue } : undefined}
        window={window}
        yMax={100}
        yWidth={52}
        formatValue={(v) => `${v.toFixed(1)} %`}
        formatTick={(v) => `${v} %`}
        empty={
          error ? (
            <span className="inline-error">Could not load history: {error.message}</span>
          ) : pending ? (
            'Loading…'
          ) : stored ? (
            `Nothing stored for the last ${WINDOW_LABEL[window]}.`
          ) : (
            'Waiting for telemetry…'
          )
        }
      />
    </Panel>
  );
}
