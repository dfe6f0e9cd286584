'use client';

import type { ReactNode } from 'react';
import {
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ReferenceArea,
  ReferenceLine,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { CHART_COLORS, niceCeil } from '@/components/charts/metric-chart';
import { fmtRate } from '@/components/format';
import { fmtLatency } from '@/components/stress/run-state';
import type { StressSeriesPoint, StressThresholdStatus } from '@/lib/protocol/live';
import { describeThreshold } from '@/lib/stress/thresholds';

/**
 * The charts of a stress run, over seconds since its start: the rate asked for against the
 * rate sent and answered; p50 / p95 / p99 with the latency thresholds drawn in and the
 * seconds that broke them marked; errors and late requests. The warm-up is shaded: it is
 * shown but not judged.
 */

const TOOLTIP_STYLE = { background: '#0b0e13', border: '1px solid #2c3442', borderRadius: 6, fontSize: 12 };
const PERCENTILES = ['p50', 'p95', 'p99'] as const;
const PERCENTILE_COLOR = { p50: CHART_COLORS.blue, p95: CHART_COLORS.amber, p99: CHART_COLORS.violet };

type ChartLine = {
  key: string;
  name: string;
  color: string;
  width?: number;
  dashed?: boolean;
  dots?: boolean;
};

function SecondsChart<T extends { second: number }>({
  testId,
  data,
  lines,
  durationS,
  warmupS,
  height = 200,
  yMax,
  formatValue,
  children,
  empty,
}: {
  testId: string;
  data: readonly T[];
  lines: readonly ChartLine[];
  durationS: number;
  warmupS: number;
  height?: number;
  yMax: (dataMax: number) => number;
  formatValue: (value: number) => string;
  /** Reference lines drawn over the data. */
  children?: ReactNode;
  empty: ReactNode;
}) {
  if (data.length === 0) {
    return (
      <div className="chart-empty" style={{ height }} data-testid={testId} data-points={0}>
        {empty}
      </div>
    );
  }
  const lastSecond = data[data.length - 1]!.second;
  return (
    <div className="metric-chart" data-testid={testId} data-points={data.length}>
      <ComposedChart
        responsive
        style={{ width: '100%', height }}
        data={data as T[]}
        margin={{ top: 8, right: 12, bottom: 0, left: 0 }}
      >
        <CartesianGrid stroke={CHART_COLORS.grid} strokeDasharray="2 4" vertical={false} />
        <XAxis
          dataKey="second"
          type="number"
          domain={[0, Math.max(Math.ceil(durationS), lastSecond + 1)]}
          tickFormatter={(s: number) => `${s} s`}
          stroke={CHART_COLORS.axis}
          tick={{ fontSize: 11 }}
          minTickGap={30}
        />
        <YAxis
          stroke={CHART_COLORS.axis}
          tick={{ fontSize: 11 }}
          width={52}
          domain={[0, yMax]}
          tickFormatter={(v: number) => (v >= 10_000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toFixed(1)}`)}
        />
        <Tooltip
          isAnimationActive={false}
          contentStyle={TOOLTIP_STYLE}
          labelFormatter={(s) => `${s} s into the run`}
          formatter={(value) => (typeof value === 'number' ? formatValue(value) : String(value))}
        />
        <Legend iconType="plainline" wrapperStyle={{ fontSize: 11 }} />
        {warmupS > 0 && (
          <ReferenceArea
            x1={0}
            x2={warmupS}
            fill={CHART_COLORS.axis}
            fillOpacity={0.12}
            ifOverflow="extendDomain"
            label={{ value: 'warm-up', position: 'insideTopLeft', fill: CHART_COLORS.axis, fontSize: 11 }}
          />
        )}
        {children}
        {lines.map((line) => (
          <Line
            key={line.key}
            type="monotone"
            dataKey={line.key}
            name={line.name}
            stroke={line.dots ? 'none' : line.color}
            strokeWidth={line.width ?? 1.5}
            strokeDasharray={line.dashed ? '6 4' : undefined}
            dot={line.dots ? { r: 3, fill: line.color, stroke: 'none' } : false}
            activeDot={line.dots ? { r: 4 } : undefined}
            legendType={line.dots ? 'circle' : 'plainline'}
            connectNulls={!line.dots}
            isAnimationActive={false}
          />
        ))}
      </ComposedChart>
    </div>
  );
}

export function RateChart({
  series,
  durationS,
  warmupS,
  closedLoop,
}: {
  series: readonly StressSeriesPoint[];
  durationS: number;
  warmupS: number;
  closedLoop: boolean;
}) {
  const lines: ChartLine[] = [
    ...(closedLoop
      ? []
      : [
          {
            key: 'targetRps',
            name: 'target',
            color: CHART_COLORS.axis,
            width: 1.5,
            dashed: true,
          } as ChartLine,
        ]),
    { key: 'achievedRps', name: 'sent', color: CHART_COLORS.teal, width: 2 },
    { key: 'throughputRps', name: 'answered', color: CHART_COLORS.blue },
  ];
  return (
    <SecondsChart
      testId="stress-rate-chart"
      data={series}
      lines={lines}
      durationS={durationS}
      warmupS={warmupS}
      yMax={(max) => niceCeil(Math.max(max, 1) * 1.1)}
      formatValue={(v) => `${fmtRate(v)} req/s`}
      empty="Waiting for the first second…"
    />
  );
}

type LatencyDatum = StressSeriesPoint & { overThreshold: number | null };

/** p50 / p95 / p99 per second, with each latency threshold on them as a line. */
export function LatencyChart({
  series,
  thresholds,
  durationS,
  warmupS,
}: {
  series: readonly StressSeriesPoint[];
  thresholds: readonly StressThresholdStatus[];
  durationS: number;
  warmupS: number;
}) {
  const drawn = thresholds.filter(
    (t): t is StressThresholdStatus & { metric: (typeof PERCENTILES)[number] } =>
      (PERCENTILES as readonly string[]).includes(t.metric),
  );
  // A second is marked where its own percentile broke a threshold on that percentile.
  const data: LatencyDatum[] = series.map((point) => {
    let over: number | null = null;
    if (point.phase === 'measure') {
      for (const t of drawn) {
        const value = point[t.metric];
        if (value !== null && (t.op === '<' ? value >= t.value : value > t.value))
          over = Math.max(over ?? 0, value);
      }
    }
    return { ...point, overThreshold: over };
  });
  const breaches = data.filter((d) => d.overThreshold !== null).length;
  const top = Math.max(0, ...drawn.map((t) => t.value));
  const lines: ChartLine[] = [
    ...PERCENTILES.map((key) => ({
      key,
      name: key,
      color: PERCENTILE_COLOR[key],
      width: key === 'p95' ? 2 : 1.5,
    })),
    ...(breaches > 0
      ? [{ key: 'overThreshold', name: 'over a threshold', color: CHART_COLORS.red, dots: true }]
      : []),
  ];
  return (
    <div data-testid="stress-latency" data-breaches={breaches}>
      <SecondsChart
        testId="stress-latency-chart"
        data={data}
        lines={lines}
        durationS={durationS}
        warmupS={warmupS}
        height={240}
        yMax={(max) => niceCeil(Math.max(max, top, 1) * 1.15)}
        formatValue={fmtLatency}
        empty="Waiting for the first second…"
      >
        {drawn.map((t) => (
          <ReferenceLine
            key={t.text}
            y={t.value}
            stroke={t.pass === false ? CHART_COLORS.red : PERCENTILE_COLOR[t.metric]}
            strokeDasharray="6 4"
            ifOverflow="extendDomain"
            label={{
              value: describeThreshold(t),
              position: 'insideTopRight',
              fill: t.pass === false ? CHART_COLORS.red : PERCENTILE_COLOR[t.metric],
              fontSize: 11,
            }}
          />
        ))}
        {thresholds
          .filter((t) => t.breachedSecond !== null)
          .map((t) => (
            <ReferenceLine
              key={`breach-${t.text}`}
              x={t.breachedSecond!}
              stroke={CHART_COLORS.red}
              strokeOpacity={0.6}
              label={{
                value: `${t.metric} broken`,
                position: 'insideTopLeft',
                fill: CHART_COLORS.red,
                fontSize: 11,
              }}
            />
          ))}
      </SecondsChart>
    </div>
  );
}

export function ErrorsChart({
  series,
  durationS,
  warmupS,
}: {
  series: readonly StressSeriesPoint[];
  durationS: number;
  warmupS: number;
}) {
  return (
    <SecondsChart
      testId="stress-errors-chart"
      data={series}
      lines={[
        { key: 'errors', name: 'errors', color: CHART_COLORS.red, width: 2 },
        { key: 'late', name: 'sent late', color: CHART_COLORS.amber },
      ]}
      durationS={durationS}
      warmupS={warmupS}
      yMax={(max) => niceCeil(Math.max(max, 1) * 1.1)}
      formatValue={(v) => `${Math.round(v)} requests`}
      empty="Waiting for the first second…"
    />
  );
}
