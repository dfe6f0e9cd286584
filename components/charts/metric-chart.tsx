'use client';

import type { ReactNode } from 'react';
import {
  Area,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ReferenceLine,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { type ChartWindow, WINDOW_SPAN_MS } from '@/components/charts/window-selector';
import { fmtAxisTime, fmtWhen } from '@/components/format';

/**
 * One time series chart of the console: lines over time, optionally a min–max band behind
 * them and a reference line (an SLO). Axis labels follow the window (seconds for Live,
 * dates for 7 d).
 */

export type MetricSeries = { key: string; name: string; color: string; width?: number };
export type MetricBand = { key: string; name: string; color: string };
export type MetricReference = { y: number; label: string; color: string };
type AxisMax = number | 'auto' | ((dataMax: number) => number);

export const CHART_COLORS = {
  grid: '#232a36',
  axis: '#5d6778',
  blue: '#4cc2ff',
  amber: '#f5a524',
  violet: '#c084fc',
  green: '#3ecf8e',
  red: '#f2555a',
  teal: '#2dd4bf',
};

const TOOLTIP_STYLE = {
  background: '#0b0e13',
  border: '1px solid #2c3442',
  borderRadius: 6,
  fontSize: 12,
};

export function MetricChart<T extends { at: number }>({
  testId,
  data,
  series,
  band,
  window,
  height = 180,
  yMax = 'auto',
  yWidth = 48,
  formatValue,
  formatTick,
  reference,
  legend = series.length > 1 || band !== undefined,
  empty,
}: {
  testId: string;
  data: readonly T[];
  series: readonly MetricSeries[];
  band?: MetricBand;
  window: ChartWindow;
  height?: number;
  yMax?: AxisMax;
  yWidth?: number;
  formatValue: (value: number) => string;
  formatTick?: (value: number) => string;
  reference?: MetricReference;
  legend?: boolean;
  /** Shown instead of the chart while there are no points. */
  empty: ReactNode;
}) {
  const first = data[0]?.at;
  const last = data[data.length - 1]?.at;
  const span =
    first !== undefined && last !== undefined && last > first ? last - first : WINDOW_SPAN_MS[window];
  return (
    <div className="metric-chart" data-testid={testId} data-points={data.length} data-window={window}>
      {data.length === 0 ? (
        <div className="chart-empty" style={{ height }}>
          {empty}
        </div>
      ) : (
        <ComposedChart
          responsive
          style={{ width: '100%', height }}
          data={data as T[]}
          margin={{ top: 8, right: 12, bottom: 0, left: 0 }}
        >
          <CartesianGrid stroke={CHART_COLORS.grid} strokeDasharray="2 4" vertical={false} />
          <XAxis
            dataKey="at"
            type="number"
            scale="time"
            domain={['dataMin', 'dataMax']}
            tickFormatter={(at: number) => fmtAxisTime(at, span)}
            stroke={CHART_COLORS.axis}
            tick={{ fontSize: 11 }}
            minTickGap={40}
          />
          <YAxis
            stroke={CHART_COLORS.axis}
            tick={{ fontSize: 11 }}
            width={yWidth}
            domain={[0, yMax]}
            tickFormatter={formatTick}
            allowDecimals
          />
          <Tooltip
            isAnimationActive={false}
            contentStyle={TOOLTIP_STYLE}
            labelFormatter={(at) => fmtWhen(Number(at), span)}
            formatter={(value) =>
              Array.isArray(value)
                ? `${formatValue(Number(value[0]))} – ${formatValue(Number(value[1]))}`
                : typeof value === 'number'
                  ? formatValue(value)
                  : String(value)
            }
          />
          {legend && <Legend iconType="plainline" wrapperStyle={{ fontSize: 11 }} />}
          {reference && (
            <ReferenceLine
              y={reference.y}
              stroke={reference.color}
              strokeDasharray="6 4"
              ifOverflow="extendDomain"
              label={{
                value: reference.label,
                position: 'insideBottomRight',
                fill: reference.color,
                fontSize: 11,
              }}
            />
          )}
          {band && (
            <Area
              type="monotone"
              dataKey={band.key}
              name={band.name}
              stroke="none"
              fill={band.color}
              fillOpacity={0.22}
              connectNulls={false}
              isAnimationActive={false}
              activeDot={false}
            />
          )}
          {series.map((s) => (
            <Line
              key={s.key}
              type="monotone"
              dataKey={s.key}
              name={s.name}
              stroke={s.color}
              strokeWidth={s.width ?? 1.5}
              dot={false}
              connectNulls
              isAnimationActive={false}
            />
          ))}
        </ComposedChart>
      )}
    </div>
  );
}

/** Rounds up to 1, 2, 2.5 or 5 times a power of ten, for tidy axis ends. */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= value) ?? 10;
  return step * magnitude;
}
