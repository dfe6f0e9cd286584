'use client';

import { fmtInt, fmtRate } from '@/components/format';
import { fmtLatency, fmtSeconds, fmtShare, VerdictBadge } from '@/components/stress/run-state';
import type { StressRun } from '@/components/stress/use-stress-run';
import { EmptyState } from '@/components/ui/states';
import { describeThreshold } from '@/lib/stress/thresholds';

type Figures = NonNullable<StressRun['results']>;

type Row = {
  key: string;
  label: string;
  value: (f: Figures) => number | null;
  format: (v: number | null) => string;
  /** Lower is better (latency, errors): for the comparison's arrows. */
  lowerIsBetter?: boolean;
};

const ROWS: Row[] = [
  { key: 'p50', label: 'p50', value: (f) => f.p50, format: fmtLatency, lowerIsBetter: true },
  { key: 'p90', label: 'p90', value: (f) => f.p90, format: fmtLatency, lowerIsBetter: true },
  { key: 'p95', label: 'p95', value: (f) => f.p95, format: fmtLatency, lowerIsBetter: true },
  { key: 'p99', label: 'p99', value: (f) => f.p99, format: fmtLatency, lowerIsBetter: true },
  { key: 'p99.9', label: 'p99.9', value: (f) => f['p99.9'], format: fmtLatency, lowerIsBetter: true },
  { key: 'max', label: 'max', value: (f) => f.max, format: fmtLatency, lowerIsBetter: true },
  { key: 'throughput', label: 'Throughput (answered)', value: (f) => f.throughputRps, format: rate },
  { key: 'achieved', label: 'Sent', value: (f) => f.achievedRps, format: rate },
  { key: 'target', label: 'Target', value: (f) => f.targetRps, format: rate },
  { key: 'requests', label: 'Requests answered', value: (f) => f.requests, format: fmtInt },
  { key: 'errors', label: 'Errors', value: (f) => f.errorsPct, format: fmtShare, lowerIsBetter: true },
  { key: 'late', label: 'Sent late', value: (f) => f.latePct, format: fmtShare, lowerIsBetter: true },
  { key: 'measured', label: 'Measured for', value: (f) => f.measuredS, format: fmtSeconds },
];

function rate(v: number | null): string {
  return v === null ? fmtRate(v) : `${fmtRate(v)} req/s`;
}

/** Figures of the measured phase; several runs side by side (the first is the baseline). */
export function ResultsTable({
  columns,
}: {
  columns: { label: string; figures: Figures | null; counts?: { errors: number; late: number } }[];
}) {
  if (columns.every((c) => c.figures === null)) return <EmptyState>No measured requests yet.</EmptyState>;
  const compare = columns.length > 1;
  return (
    <div className="table-wrap">
      <table className="table table-compact" data-testid="stress-results">
        <thead>
          <tr>
            <th>Measured phase</th>
            {columns.map((c) => (
              <th key={c.label} className="num">
                {c.label}
              </th>
            ))}
            {compare && <th className="num">Change</th>}
          </tr>
        </thead>
        <tbody>
          {ROWS.map((row) => {
            const values = columns.map((c) => (c.figures ? row.value(c.figures) : null));
            return (
              <tr key={row.key} data-testid={`result-${row.key}`}>
                <td>{row.label}</td>
                {values.map((v, i) => (
                  <td key={columns[i]!.label} className="num" data-value={v ?? ''}>
                    {row.format(v)}
                    {row.key === 'errors' && columns[i]!.figures && (
                      <span className="muted"> ({fmtInt(columns[i]!.figures!.errors)})</span>
                    )}
                    {row.key === 'late' && columns[i]!.figures && (
                      <span className="muted"> ({fmtInt(columns[i]!.figures!.late)})</span>
                    )}
                  </td>
                ))}
                {compare && (
                  <td className="num">{change(values[0] ?? null, values[1] ?? null, row.lowerIsBetter)}</td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function change(base: number | null, other: number | null, lowerIsBetter?: boolean) {
  if (base === null || other === null || base === 0) return <span className="muted">—</span>;
  const pct = ((other - base) / base) * 100;
  if (Math.abs(pct) < 0.5) return <span className="muted">same</span>;
  const better = lowerIsBetter === undefined ? null : lowerIsBetter ? pct < 0 : pct > 0;
  const className = better === null ? undefined : better ? 'text-ok' : 'text-bad';
  return (
    <span
      className={className}
    >{`${pct > 0 ? '+' : ''}${pct.toFixed(pct > -10 && pct < 10 ? 1 : 0)} %`}</span>
  );
}

export function ThresholdsTable({ thresholds }: { thresholds: StressRun['thresholds'] }) {
  if (thresholds.length === 0) return <EmptyState>No thresholds were set for this run.</EmptyState>;
  return (
    <div className="table-wrap">
      <table className="table table-compact" data-testid="stress-thresholds">
        <thead>
          <tr>
            <th>Threshold</th>
            <th className="num">Measured</th>
            <th>Verdict</th>
            <th className="num">First broken</th>
          </tr>
        </thead>
        <tbody>
          {thresholds.map((t) => (
            <tr key={t.text} data-testid="stress-threshold" data-pass={t.pass === null ? '' : String(t.pass)}>
              <td className="mono">{describeThreshold(t)}</td>
              <td className="num">{t.unit === '%' ? fmtShare(t.measured) : fmtLatency(t.measured)}</td>
              <td>
                <VerdictBadge pass={t.pass} />
              </td>
              <td className="num">{t.breachedSecond === null ? '—' : `${t.breachedSecond} s`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
