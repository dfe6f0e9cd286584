'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { AllocationTabs } from '@/components/allocation/allocation-tabs';
import { HistoryTable } from '@/components/allocation/history-table';
import { mergeChanges } from '@/components/allocation/model';
import { useOwnerNames } from '@/components/allocation/owner-names';
import { useAllocationChanges } from '@/components/live/use-allocation-changes';
import { useTRPC } from '@/components/trpc/client';
import { EmptyState, Panel, QueryView } from '@/components/ui/states';
import { type AllocationChangeView, CHANGE_STATES, type ChangeState } from '@/lib/allocation/types';

const PAGE_SIZE = 50;

export function HistoryView() {
  const [state, setState] = useState<ChangeState | ''>('');
  // Bumped by "Refresh": the list starts again from the newest change.
  const [generation, setGeneration] = useState(0);
  const filterId = useId();
  return (
    <div className="page">
      <div className="page-header">
        <h1>Allocation history</h1>
        <AllocationTabs />
      </div>
      <Panel
        title="Changes"
        actions={
          <span className="panel-actions-row">
            <label className="filter filter-inline" htmlFor={filterId}>
              <span className="filter-label">State</span>
              <select
                id={filterId}
                value={state}
                onChange={(e) => setState(e.target.value as ChangeState | '')}
              >
                <option value="">Any state</option>
                {CHANGE_STATES.map((s) => (
                  <option key={s} value={s}>
                    {s.replace('_', ' ')}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" className="button button-ghost" onClick={() => setGeneration((g) => g + 1)}>
              Refresh
            </button>
          </span>
        }
      >
        <ChangeList key={`${state}/${generation}`} state={state || undefined} />
      </Panel>
    </div>
  );
}

/**
 * The newest page, older pages on request (`before` the oldest shown), and every change
 * that arrives live: new ones on top, state changes in place. The first page is read once,
 * not polled, so the pages below it stay contiguous.
 */
function ChangeList({ state }: { state: ChangeState | undefined }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const names = useOwnerNames();
  const first = useQuery(
    trpc.allocation.changes.queryOptions(
      { limit: PAGE_SIZE, state },
      { staleTime: Number.POSITIVE_INFINITY, refetchOnWindowFocus: false, refetchOnMount: 'always' },
    ),
  );
  const [older, setOlder] = useState<{ items: AllocationChangeView[]; nextBefore: string | null } | null>(
    null,
  );
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [olderError, setOlderError] = useState<string | null>(null);
  const [live, setLive] = useState<AllocationChangeView[]>([]);
  useAllocationChanges((change) => setLive((list) => mergeChanges([change], list)));

  const nextBefore = older ? older.nextBefore : (first.data?.nextBefore ?? null);

  const loadOlder = async () => {
    if (!nextBefore) return;
    setLoadingOlder(true);
    setOlderError(null);
    try {
      const page = await queryClient.fetchQuery(
        trpc.allocation.changes.queryOptions({ limit: PAGE_SIZE, state, before: nextBefore }),
      );
      setOlder((known) => ({ items: [...(known?.items ?? []), ...page.items], nextBefore: page.nextBefore }));
    } catch (error) {
      setOlderError(error instanceof Error ? error.message : String(error));
    } finally {
      setLoadingOlder(false);
    }
  };

  return (
    <QueryView query={first} loadingLabel="Loading changes…">
      {(page) => {
        const loaded = mergeChanges(page.items, older?.items ?? []);
        const known = new Set(loaded.map((c) => c.id));
        const oldestLoaded = loaded.at(-1)?.createdAt ?? '';
        // A live change is shown if it is already listed or newer than the oldest listed one;
        // an update to a change further back waits until its page is loaded.
        const fresh = live.filter((c) => known.has(c.id) || c.createdAt >= oldestLoaded || !nextBefore);
        const changes = mergeChanges(loaded, fresh).filter((c) => !state || c.state === state);
        return (
          <>
            {changes.length === 0 ? (
              <EmptyState>
                {state ? `No ${state.replace('_', ' ')} changes.` : 'No allocation changes yet.'}
              </EmptyState>
            ) : (
              <HistoryTable changes={changes} names={names} />
            )}
            <div className="history-footer">
              <span className="muted small" data-testid="history-count">
                {changes.length} change{changes.length === 1 ? '' : 's'}
                {nextBefore ? '' : changes.length > 0 ? ', all shown' : ''}
              </span>
              {nextBefore && (
                <button type="button" className="button" onClick={loadOlder} disabled={loadingOlder}>
                  {loadingOlder && <span className="spinner" aria-hidden="true" />}
                  Load older
                </button>
              )}
            </div>
            {olderError && <p className="inline-error">Could not load older changes: {olderError}</p>}
          </>
        );
      }}
    </QueryView>
  );
}
