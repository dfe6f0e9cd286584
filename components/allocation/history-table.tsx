'use client';

import { Fragment, useState } from 'react';
import { fmtAgo } from '@/components/format';
import type { AllocationChangeView } from '@/lib/allocation/types';
import { ChangeDetails } from './change-details';
import { ChangeStateBadge } from './change-state';
import { type OwnerNames, summarizeMoves } from './model';

const COLUMNS = 6;

/** Changes, newest first; a row opens to show its per-GPU moves and per-node results. */
export function HistoryTable({
  changes,
  names,
}: {
  changes: readonly AllocationChangeView[];
  names: OwnerNames;
}) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const now = Date.now();

  return (
    <div className="table-wrap">
      <table className="table history-table" data-testid="history-table">
        <thead>
          <tr>
            <th>Time</th>
            <th>Actor</th>
            <th>Source</th>
            <th>Reason</th>
            <th>Moves</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {changes.map((change) => {
            const expanded = open.has(change.id);
            return (
              <Fragment key={change.id}>
                <tr
                  className={expanded ? 'history-row expanded' : 'history-row'}
                  data-testid="history-row"
                  data-change-id={change.id}
                  data-state={change.state}
                  onClick={() => toggle(change.id)}
                >
                  <td className="nowrap">
                    <button
                      type="button"
                      className="disclosure"
                      aria-expanded={expanded}
                      aria-label={expanded ? 'Hide details' : 'Show details'}
                      onClick={(e) => {
                        e.stopPropagation();
                        toggle(change.id);
                      }}
                    >
                      {expanded ? '▾' : '▸'}
                    </button>{' '}
                    <time dateTime={change.createdAt} title={fmtAgo(change.createdAt, now)}>
                      {new Date(change.createdAt).toLocaleString()}
                    </time>
                  </td>
                  <td>{change.actorName}</td>
                  <td>{change.source}</td>
                  <td className="history-reason" title={change.reason}>
                    <span className="clamp-2">{change.reason}</span>
                  </td>
                  <td className="small">{summarizeMoves(change.moves, names)}</td>
                  <td>
                    <ChangeStateBadge state={change.state} />
                    {change.state === 'rolled_back' && change.outcome && (
                      <div className="text-bad small">{change.outcome}</div>
                    )}
                  </td>
                </tr>
                {expanded && (
                  <tr className="history-details">
                    <td colSpan={COLUMNS}>
                      <ChangeDetails change={change} names={names} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
