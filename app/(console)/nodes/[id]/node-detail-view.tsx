'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useEffect, useMemo, useRef, useState } from 'react';
import { CartesianGrid, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { fmtAgo, fmtCelsius, fmtClock, fmtMemory, fmtMHz, fmtPct, fmtWatts, mean } from '@/components/format';
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

type UtilPoint = { at: number; util: number | null };
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
            {node.cordoned && <Badge tone="warn">cordoned</Badge>}
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
        <div className="node-header-stat">
          <div className="stat-label">Mean GPU utilization</div>
          <div className="stat-value">
            <span data-testid="node-mean-util">{currentMean === null ? '—' : currentMean.toFixed(1)}</span>
            <span className="stat-unit">%</span>
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
                    <tr key={g.id} data-testid={`gpu-row-${g.index}`}>
                      <td className="num">{g.index}</td>
                      <td className="mono small">{g.uuid}</td>
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

      <Panel title="Mean GPU utilization" actions={<span className="muted">since this page was opened</span>}>
        <UtilChart points={utilHistory} />
      </Panel>
    </div>
  );
}

function OwnerCell({ owner }: { owner: NonNullable<NodeDetail['gpus'][number]['owner']> }) {
  return (
    <span>
      {owner.kind === 'deployment' ? <Link href="/deployments">{owner.name}</Link> : owner.name}{' '}
      <span className="muted small">{owner.kind}</span>
    </span>
  );
}

function UtilChart({ points }: { points: UtilPoint[] }) {
  if (points.length === 0) {
    return (
      <div className="chart-empty" style={{ height: 180 }}>
        Waiting for telemetry…
      </div>
    );
  }
  return (
    <div data-testid="node-util-chart" data-points={points.length}>
      <LineChart
        responsive
        style={{ width: '100%', height: 180 }}
        data={points}
        margin={{ top: 8, right: 12, bottom: 0, left: 0 }}
      >
        <CartesianGrid stroke="#232a36" strokeDasharray="2 4" vertical={false} />
        <XAxis
          dataKey="at"
          type="number"
          scale="time"
          domain={['dataMin', 'dataMax']}
          tickFormatter={fmtClock}
          stroke="#5d6778"
          tick={{ fontSize: 11 }}
          minTickGap={40}
        />
        <YAxis domain={[0, 100]} stroke="#5d6778" tick={{ fontSize: 11 }} width={40} unit="%" />
        <Tooltip
          isAnimationActive={false}
          contentStyle={{ background: '#0b0e13', border: '1px solid #2c3442', borderRadius: 6, fontSize: 12 }}
          labelFormatter={(at) => fmtClock(Number(at))}
          formatter={(value) => (typeof value === 'number' ? `${value.toFixed(1)} %` : String(value))}
        />
        <Line
          type="monotone"
          dataKey="util"
          name="mean util"
          stroke="#4cc2ff"
          strokeWidth={2}
          dot={false}
          isAnimationActive={false}
        />
      </LineChart>
    </div>
  );
}
