'use client';

import Link from 'next/link';
import { fmtAgo, fmtRate } from '@/components/format';
import { fmtLatency, fmtShare, StressStateBadge } from '@/components/stress/run-state';
import type { RouterOutputs } from '@/components/trpc/client';
import { EmptyState } from '@/components/ui/states';

type RunListItem = RouterOutputs['stress']['list'][number];

/** The history of stress runs, newest first; two can be picked to compare. */
export function RunsTable({
  runs,
  selected,
  onToggle,
}: {
  runs: RunListItem[];
  selected: readonly string[];
  onToggle: (id: string) => void;
}) {
  if (runs.length === 0) return <EmptyState>No stress runs yet.</EmptyState>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="stress-runs">
        <thead>
          <tr>
            <th aria-label="Compare" />
            <th>Started</th>
            <th>Deployment</th>
            <th>Load</th>
            <th>State</th>
            <th className="num">p95</th>
            <th className="num">p99</th>
            <th className="num">Throughput</th>
            <th className="num">Errors</th>
            <th>Thresholds</th>
            <th>By</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-testid="stress-run-row" data-state={run.state}>
              <td>
                {run.kind !== 'capacity' && (
                  <input
                    type="checkbox"
                    aria-label={`Compare run ${run.id}`}
                    checked={selected.includes(run.id)}
                    onChange={() => onToggle(run.id)}
                  />
                )}
              </td>
              <td className="nowrap">
                <Link href={`/stress/${run.id}`} className="link-strong" title={run.createdAt}>
                  {fmtAgo(run.createdAt)}
                </Link>
              </td>
              <td>{run.deployment.name}</td>
              <td className="small">{run.loadLabel}</td>
              <td>
                <StressStateBadge state={run.state} />
              </td>
              {run.kind === 'capacity' ? (
                <td className="num" colSpan={4}>
                  {run.bestRps === null ? '—' : `capacity ${fmtRate(run.bestRps)} req/s`}
                </td>
              ) : (
                <>
                  <td className="num">{fmtLatency(run.p95)}</td>
                  <td className="num">{fmtLatency(run.p99)}</td>
                  <td className="num">
                    {run.throughputRps === null ? '—' : `${fmtRate(run.throughputRps)} req/s`}
                  </td>
                  <td className="num">{fmtShare(run.errorsPct)}</td>
                </>
              )}
              <td className="small">
                {run.thresholdsPassed + run.thresholdsFailed === 0
                  ? '—'
                  : `${run.thresholdsPassed} pass · ${run.thresholdsFailed} fail`}
              </td>
              <td className="small">{run.createdByName}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
