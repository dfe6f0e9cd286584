'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { fmtDuration, fmtGpuHours } from '@/components/format';
import { useTRPC } from '@/components/trpc/client';
import { EmptyState, ErrorState, Loading, Panel } from '@/components/ui/states';

/**
 * Allocated GPUs doing nothing: those idle (< 5 %) for five minutes or more now, longest
 * first, and the idle GPU-hours the allocated GPUs spent over the last 24 hours.
 */

const FIRST_ROWS = 12;

export function IdleGpusPanel() {
  const trpc = useTRPC();
  const idle = useQuery(trpc.fleet.idleGpus.queryOptions(undefined, { refetchInterval: 30_000 }));
  const [showAll, setShowAll] = useState(false);
  const data = idle.data;
  const gpus = data ? [...data.gpus].sort((a, b) => (b.idleForMs ?? 0) - (a.idleForMs ?? 0)) : [];
  const rows = showAll ? gpus : gpus.slice(0, FIRST_ROWS);

  return (
    <Panel
      title="Idle allocated GPUs"
      testId="idle-gpus"
      actions={
        data && (
          <span className="muted">
            <strong className="text-warn" data-testid="idle-gpu-hours-24h">
              {fmtGpuHours(data.idleGpuHours24h)}
            </strong>{' '}
            idle GPU-hours in the last 24 h
          </span>
        )
      }
    >
      {!data ? (
        idle.error ? (
          <ErrorState error={idle.error} title="Could not load idle GPUs" />
        ) : (
          <Loading label="Loading idle GPUs…" />
        )
      ) : gpus.length === 0 ? (
        <EmptyState>No allocated GPU has been idle for 5 minutes or more.</EmptyState>
      ) : (
        <>
          <p className="panel-note muted">
            <span data-testid="idle-gpus-count">{gpus.length}</span> allocated{' '}
            {gpus.length === 1 ? 'GPU has' : 'GPUs have'} been below 5 % utilization for 5 minutes or more.
          </p>
          <div className="table-wrap">
            <table className="table table-compact" data-testid="idle-gpus-table">
              <thead>
                <tr>
                  <th>Node</th>
                  <th className="num">GPU</th>
                  <th>Owner</th>
                  <th className="num">Idle for</th>
                  <th className="num">Idle GPU-hours</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((g) => (
                  <tr key={g.id} data-testid="idle-gpu-row">
                    <td>
                      <Link href={`/nodes/${g.nodeId}`} className="mono">
                        {g.hostname}
                      </Link>
                    </td>
                    <td className="num">
                      <Link href={`/gpus/${g.id}`}>GPU {g.index}</Link>
                    </td>
                    <td>
                      {g.owner?.kind === 'deployment' ? (
                        <Link href={`/deployments/${g.owner.id}`}>{g.owner.name}</Link>
                      ) : (
                        (g.owner?.name ?? '—')
                      )}{' '}
                      {g.owner && <span className="muted small">{g.owner.kind}</span>}
                    </td>
                    <td className="num text-warn">{fmtDuration(g.idleForMs)}</td>
                    <td className="num">{fmtGpuHours(g.idleGpuHours)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {gpus.length > FIRST_ROWS && (
            <button type="button" className="button button-ghost" onClick={() => setShowAll((v) => !v)}>
              {showAll ? 'Show fewer' : `Show all ${gpus.length}`}
            </button>
          )}
        </>
      )}
      {data && idle.error && <p className="inline-error">Could not refresh: {idle.error.message}</p>}
    </Panel>
  );
}
