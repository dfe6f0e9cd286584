'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useMemo } from 'react';
import { CartesianGrid, ComposedChart, Legend, Line, Tooltip, XAxis, YAxis } from 'recharts';
import { CHART_COLORS, niceCeil } from '@/components/charts/metric-chart';
import { ResultsTable, ThresholdsTable } from '@/components/stress/results-table';
import { fmtLatency, StressStateBadge } from '@/components/stress/run-state';
import type { StressRun } from '@/components/stress/use-stress-run';
import { useTRPC } from '@/components/trpc/client';
import { EmptyState, ErrorState, Loading, Panel } from '@/components/ui/states';

const TOOLTIP_STYLE = { background: '#0b0e13', border: '1px solid #2c3442', borderRadius: 6, fontSize: 12 };

/** Two runs side by side: A is the baseline, B is compared with it. */
export function CompareView({ a, b }: { a: string; b: string }) {
  const trpc = useTRPC();
  const runA = useQuery({ ...trpc.stress.get.queryOptions({ id: a }), enabled: a !== '' });
  const runB = useQuery({ ...trpc.stress.get.queryOptions({ id: b }), enabled: b !== '' });

  const body = () => {
    if (a === '' || b === '') return <EmptyState>Pick two runs in the history to compare them.</EmptyState>;
    const error = runA.error ?? runB.error;
    if (error) return <ErrorState error={error} title="Could not load both runs" />;
    if (!runA.data || !runB.data) return <Loading label="Loading runs…" />;
    return <Comparison a={runA.data} b={runB.data} />;
  };
  return (
    <div className="page" data-testid="stress-compare-view">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href="/stress">← Stress tests</Link>
      </nav>
      <div className="page-header">
        <h1>Compare stress runs</h1>
      </div>
      {body()}
    </div>
  );
}

function Comparison({ a, b }: { a: StressRun; b: StressRun }) {
  const overlay = useMemo(() => {
    const bySecond = new Map<
      number,
      { second: number; aP95?: number | null; bP95?: number | null; aRate?: number; bRate?: number }
    >();
    for (const [key, run] of [
      ['a', a],
      ['b', b],
    ] as const) {
      for (const p of run.series) {
        const row = bySecond.get(p.second) ?? { second: p.second };
        if (key === 'a') {
          row.aP95 = p.p95;
          row.aRate = p.achievedRps;
        } else {
          row.bP95 = p.p95;
          row.bRate = p.achievedRps;
        }
        bySecond.set(p.second, row);
      }
    }
    return [...bySecond.values()].sort((x, y) => x.second - y.second);
  }, [a, b]);
  const maxP95 = Math.max(1, ...overlay.map((r) => Math.max(r.aP95 ?? 0, r.bP95 ?? 0)));

  return (
    <>
      <div className="chart-pair chart-pair-2">
        {[a, b].map((run, i) => (
          <Panel key={run.id} title={`${i === 0 ? 'A (baseline)' : 'B'} · ${run.deployment.name}`}>
            <div className="node-meta">
              <StressStateBadge state={run.state} />
              <Link href={`/stress/${run.id}`} className="link-strong">
                {new Date(run.createdAt).toLocaleString()}
              </Link>
            </div>
            <p className="small">{run.loadLabel}</p>
            {run.reason && <p className="small muted">{run.reason}</p>}
          </Panel>
        ))}
      </div>
      <Panel title="p95 per second">
        <div className="metric-chart" data-testid="stress-compare-chart" data-points={overlay.length}>
          <ComposedChart
            responsive
            style={{ width: '100%', height: 240 }}
            data={overlay}
            margin={{ top: 8, right: 12, bottom: 0, left: 0 }}
          >
            <CartesianGrid stroke={CHART_COLORS.grid} strokeDasharray="2 4" vertical={false} />
            <XAxis
              dataKey="second"
              type="number"
              domain={['dataMin', 'dataMax']}
              tickFormatter={(s: number) => `${s} s`}
              stroke={CHART_COLORS.axis}
              tick={{ fontSize: 11 }}
            />
            <YAxis
              stroke={CHART_COLORS.axis}
              tick={{ fontSize: 11 }}
              width={52}
              domain={[0, niceCeil(maxP95 * 1.15)]}
            />
            <Tooltip
              isAnimationActive={false}
              contentStyle={TOOLTIP_STYLE}
              labelFormatter={(s) => `${s} s into the run`}
              formatter={(value) => (typeof value === 'number' ? fmtLatency(value) : String(value))}
            />
            <Legend iconType="plainline" wrapperStyle={{ fontSize: 11 }} />
            <Line
              dataKey="aP95"
              name="A p95"
              stroke={CHART_COLORS.blue}
              dot={false}
              connectNulls
              isAnimationActive={false}
            />
            <Line
              dataKey="bP95"
              name="B p95"
              stroke={CHART_COLORS.amber}
              strokeWidth={2}
              dot={false}
              connectNulls
              isAnimationActive={false}
            />
          </ComposedChart>
        </div>
      </Panel>
      <Panel title="Results (measured phase)">
        <ResultsTable
          columns={[
            { label: 'A', figures: a.results },
            { label: 'B', figures: b.results },
          ]}
        />
      </Panel>
      <div className="chart-pair chart-pair-2">
        <Panel title="A thresholds">
          <ThresholdsTable thresholds={a.thresholds} />
        </Panel>
        <Panel title="B thresholds">
          <ThresholdsTable thresholds={b.thresholds} />
        </Panel>
      </div>
    </>
  );
}
