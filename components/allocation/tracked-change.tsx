'use client';

import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useTRPC } from '@/components/trpc/client';
import type { AllocationChangeView, ChangeState } from '@/lib/allocation/types';
import { NodeResults } from './change-details';
import { ChangeStateBadge } from './change-state';
import { isInFlight, type OwnerNames, summarizeMoves } from './model';

/** While in flight, the change is also polled, so a missed live event cannot leave it stuck. */
const POLL_MS = 2_000;

/**
 * A change just submitted from this page, followed until it settles: its states as they
 * were seen (e.g. pending → applying → applied), each node's answer, and the outcome.
 */
export function TrackedChange({
  initial,
  names,
  onDismiss,
}: {
  initial: AllocationChangeView;
  names: OwnerNames;
  onDismiss: () => void;
}) {
  const trpc = useTRPC();
  const query = useQuery(
    trpc.allocation.change.queryOptions(
      { id: initial.id },
      {
        initialData: initial,
        refetchInterval: (q) => (q.state.data && !isInFlight(q.state.data) ? false : POLL_MS),
      },
    ),
  );
  const change = query.data ?? initial;
  const seen = useSeenStates(initial.state, change.state);

  return (
    <div
      className={`tracked-change tracked-change-${change.state}`}
      data-testid="tracked-change"
      data-change-id={change.id}
      data-state={change.state}
      aria-live="polite"
    >
      <div className="tracked-change-head">
        <ChangeStateBadge state={change.state} />
        <span>{summarizeMoves(change.moves, names)}</span>
        <span className="muted small" data-testid="tracked-change-states">
          {seen.join(' → ')}
        </span>
        <button type="button" className="button button-ghost button-small" onClick={onDismiss}>
          Dismiss
        </button>
      </div>
      <NodeResults nodes={change.nodes} />
      {change.state === 'rolled_back' && (
        <p className="form-error" role="alert" data-testid="change-outcome">
          Rolled back: {change.outcome ?? 'no reason given'}
        </p>
      )}
      {query.error && <p className="inline-error">Could not refresh this change: {query.error.message}</p>}
    </div>
  );
}

/**
 * The states the change has been seen in: the one the server answered with, then each
 * later one (a live update may have arrived before this mounted).
 */
function useSeenStates(first: ChangeState, state: ChangeState): ChangeState[] {
  const [seen, setSeen] = useState<ChangeState[]>([first]);
  useEffect(() => {
    setSeen((list) => (list[list.length - 1] === state ? list : [...list, state]));
  }, [state]);
  return seen;
}
