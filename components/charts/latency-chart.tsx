'use client';

import { useQuery } from '@tanstack/react-query';
import { useMemo, useRef, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { fmtClock, fmtMs } from '@/components/format';
import { useLiveEvent } from '@/components/live/use-live';
import { useTRPC } from '@/components/trpc/client';
import { Badge } from '@/components/ui/states';

/**
 * A deployment's p50 / p95 / p99 over the last few minutes against its p95 SLO: pre-filled
 * from the stored 10 s rollups, then one point per second from `deployment:latency`
 * (the page must have joined `fleet` or `deployment:<id>`).
 */

export type LatencyChartDeployment = { id: string; name: string; sloP95Ms: number };
type ChartPoint = { at: number; p50: number | null; p95: number | null; p99: number | null };

/** How much history is shown, and how many live points are kept. */
const WINDOW_MS = 5 * 60_000;
const RING_SIZE = 300;

const SERIES = [
  { key: 'p50', color: '#4cc2ff', name: 'p50' },
  { key: 'p95', color: '#f5a524', name: 'p95' },
  { key: 'p99', color: '#c084fc', name: 'p99' },
] as const;

export function LatencyChart({
  deployment,
  height = 200,
}: {
  deployment: LatencyChartDeployment;
  height?: number;
}) {
  const trpc = useTRPC();
  const history = useQuery(
    trpc.fleet.latencyHistory.queryOptions({ deploymentId: deployment.id, window: '15m' }, { staleTime: 0 }),
  );
  const ringRef = useRef<ChartPoint[]>([]);
  const [version, setVersion] = useState(0);

  useLiveEvent('deployment:latency', (points) => {
    const point = points.find((p) => p.deploymentId === deployment.id);
    if (!point || (point.p50 === null && point.p95 === null && point.p99 === null)) return;
    const ring = ringRef.current;
    const last = ring[ring.length - 1];
    // The same point can come twice (a `fleet` and a `deployment:<id>` room); keep one.
    if (last && point.at <= last.at) return;
    ring.push({ at: point.at, p50: point.p50, p95: point.p95, p99: point.p99 });
    if (ring.length > RING_SIZE) ring.splice(0, ring.length - RING_SIZE);
    setVersion((v) => v + 1);
  });

  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` marks a change to the ring (a ref).
  const data = useMemo(() => {
    const live = ringRef.current;
    const firstLive = live[0]?.at ?? Number.POSITIVE_INFINITY;
    const before = (history.data?.points ?? []).filter((p) => p.at < firstLive);
    const merged: ChartPoint[] = [
      ...before.map((p) => ({ at: p.at, p50: p.p50, p95: p.p95, p99: p.p99 })),
      ...live,
    ];
    const newest = merged[merged.length - 1]?.at ?? 0;
    const recent = merged.filter((p) => p.at >= newest - WINDOW_MS);
    return recent.length > RING_SIZE ? recent.slice(recent.length - RING_SIZE) : recent;
  }, [history.data, version]);

  const latest = data[data.length - 1];
  const lastP95 = [...data].reverse().find((p) => p.p95 !== null)?.p95 ?? null;
  const over = lastP95 !== null && lastP95 > deployment.sloP95Ms;
  const slo = deployment.sloP95Ms;

  return (
    <figure
      className={over ? 'latency-chart over-slo' : 'latency-chart'}
      data-testid={`latency-chart-${deployment.name}`}
      data-points={data.length}
      data-last-p95={lastP95 === null ? '' : Math.round(lastP95)}
    >
      <figcaption className="latency-chart-header">
        <span className="latency-chart-title">{deployment.name}</span>
        <span className="latency-chart-now">
          <span className={over ? 'p95-value over' : 'p95-value'}>p95 {fmtMs(lastP95)}</span>
          <span className="muted"> / SLO {fmtMs(slo)}</span>
          {lastP95 !== null && <Badge tone={over ? 'bad' : 'ok'}>{over ? 'over SLO' : 'within SLO'}</Badge>}
        </span>
      </figcaption>
      {data.length === 0 ? (
        <div className="chart-empty" style={{ height }}>
          {history.error ? (
            <span className="inline-error">Could not load latency history: {history.error.message}</span>
          ) : history.isPending ? (
            'Loading latency…'
          ) : (
            'Waiting for telemetry…'
          )}
        </div>
      ) : (
        <LineChart
          responsive
          style={{ width: '100%', height }}
          data={data}
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
          <YAxis
            stroke="#5d6778"
            tick={{ fontSize: 11 }}
            width={48}
            // Room above the SLO line (and the data) for the SLO label.
            domain={[0, (dataMax: number) => niceCeil(Math.max(dataMax, slo) * 1.15)]}
            tickFormatter={(v: number) => (v >= 1000 ? `${+(v / 1000).toFixed(1)} s` : `${v}`)}
          />
          <Tooltip
            isAnimationActive={false}
            contentStyle={{
              background: '#0b0e13',
              border: '1px solid #2c3442',
              borderRadius: 6,
              fontSize: 12,
            }}
            labelFormatter={(at) => fmtClock(Number(at))}
            formatter={(value) => (typeof value === 'number' ? fmtMs(value) : String(value))}
          />
          <Legend iconType="plainline" wrapperStyle={{ fontSize: 11 }} />
          <ReferenceLine
            y={slo}
            stroke="#f2555a"
            strokeDasharray="6 4"
            ifOverflow="extendDomain"
            label={{ value: `SLO ${slo} ms`, position: 'insideBottomRight', fill: '#f2555a', fontSize: 11 }}
          />
          {SERIES.map((s) => (
            <Line
              key={s.key}
              type="monotone"
              dataKey={s.key}
              name={s.name}
              stroke={s.color}
              strokeWidth={s.key === 'p95' ? 2 : 1.5}
              dot={false}
              connectNulls
              isAnimationActive={false}
            />
          ))}
        </LineChart>
      )}
      {latest && history.error && data.length > 0 && (
        <span className="inline-error">History unavailable: {history.error.message}</span>
      )}
    </figure>
  );
}

/** Rounds up to 1, 2, 2.5 or 5 times a power of ten, for tidy axis ends. */
function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= value) ?? 10;
  return step * magnitude;
}
