'use client';

import { CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { CHART_COLORS, niceCeil } from '@/components/charts/metric-chart';
import { fmtLatency } from '@/components/stress/run-state';
import type { StressRun } from '@/components/stress/use-stress-run';
import { EmptyState } from '@/components/ui/states';

type Curve = NonNullable<NonNullable<StressRun['capacity']>['results']>;

const TOOLTIP_STYLE = { background: '#0b0e13', border: '1px solid #2c3442', borderRadius: 6, fontSize: 12 };

/**
 * Latency against throughput, one point per step of a capacity search: where the p95
 * line crosses the SLO is the deployment's capacity. Steps sit at the rate they sent.
 */
export function CapacityCurve({ curve }: { curve: Curve | null }) {
  if (!curve || curve.points.length === 0) {
    return <EmptyState>The first step is running; its point appears when it ends.</EmptyState>;
  }
  const data = curve.points.map((p) => ({ ...p, rate: p.achievedRps ?? p.targetRps }));
  const maxRate = Math.max(...data.map((p) => p.rate), curve.bestRps ?? 0);
  const maxLatency = Math.max(curve.sloP95Ms, ...data.map((p) => p.p99 ?? p.p95 ?? 0));
  return (
    <div
      className="metric-chart"
      data-testid="capacity-curve"
      data-points={data.length}
      data-best={curve.bestRps ?? ''}
    >
      <ComposedChart
        responsive
        style={{ width: '100%', height: 300 }}
        data={data}
        margin={{ top: 12, right: 16, bottom: 14, left: 0 }}
      >
        <CartesianGrid stroke={CHART_COLORS.grid} strokeDasharray="2 4" />
        <XAxis
          dataKey="rate"
          type="number"
          domain={[0, niceCeil(maxRate * 1.1)]}
          stroke={CHART_COLORS.axis}
          tick={{ fontSize: 11 }}
          label={{
            value: 'requests/s sent',
            position: 'insideBottom',
            offset: -8,
            fill: CHART_COLORS.axis,
            fontSize: 11,
          }}
        />
        <YAxis
          stroke={CHART_COLORS.axis}
          tick={{ fontSize: 11 }}
          width={56}
          domain={[0, niceCeil(maxLatency * 1.15)]}
          tickFormatter={(v: number) => (v >= 1000 ? `${+(v / 1000).toFixed(1)} s` : `${v}`)}
        />
        <Tooltip
          isAnimationActive={false}
          contentStyle={TOOLTIP_STYLE}
          labelFormatter={(rate) => `${Number(rate).toFixed(1)} req/s`}
          formatter={(value) => (typeof value === 'number' ? fmtLatency(value) : String(value))}
        />
        <Legend iconType="plainline" verticalAlign="top" wrapperStyle={{ fontSize: 11, paddingBottom: 6 }} />
        <ReferenceLine
          y={curve.sloP95Ms}
          stroke={CHART_COLORS.red}
          strokeDasharray="6 4"
          ifOverflow="extendDomain"
          label={{
            value: `SLO p95 ${curve.sloP95Ms} ms`,
            position: 'insideTopLeft',
            fill: CHART_COLORS.red,
            fontSize: 11,
          }}
        />
        {curve.bestRps !== null && (
          <ReferenceLine
            x={curve.bestRps}
            stroke={CHART_COLORS.green}
            strokeDasharray="4 4"
            label={{
              value: `capacity ${curve.bestRps} req/s`,
              position: 'insideTopRight',
              fill: CHART_COLORS.green,
              fontSize: 11,
            }}
          />
        )}
        {(
          [
            ['p50', CHART_COLORS.blue],
            ['p95', CHART_COLORS.amber],
            ['p99', CHART_COLORS.violet],
          ] as const
        ).map(([key, color]) => (
          <Line
            key={key}
            type="linear"
            dataKey={key}
            name={key}
            stroke={color}
            strokeWidth={key === 'p95' ? 2 : 1.5}
            dot={{ r: 3, fill: color, stroke: 'none' }}
            connectNulls
            isAnimationActive={false}
          />
        ))}
      </ComposedChart>
    </div>
  );
}
