'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { useTRPC } from '@/components/trpc/client';
import type { AllocationChangeView, DryRunResult } from '@/lib/allocation/types';
import { MovesTable } from './change-details';
import { EffectsTable } from './effects-table';
import { newIdempotencyKey } from './idempotency';
import {
  type AllocationBoard,
  FREE_POOL,
  isOpenJob,
  type LaneKey,
  mergeChanges,
  type OwnerNames,
  ownerFromKey,
  ownerName,
  type PreparedChange,
  prepareChange,
  sortDeployments,
} from './model';
import { SubmitError } from './submit-error';

/** A previewed change: exactly what Apply will send, and the server's prediction for it. */
type Preview = {
  /** The inputs it was made from; any edit after it makes it stale. */
  signature: string;
  change: PreparedChange;
  reason: string;
  result: DryRunResult;
  /** One per attempt: pressing Apply again after a lost reply resends the same key. */
  idempotencyKey: string;
};

/**
 * Move the selected GPUs: choose where to, say why, preview (a dry run: what would change
 * and the predicted effect per deployment), then apply exactly what was previewed.
 */
export function MovePanel({
  board,
  names,
  selected,
  destination,
  onDestinationChange,
  onClearSelection,
  onApplied,
}: {
  board: AllocationBoard;
  names: OwnerNames;
  selected: ReadonlySet<string>;
  destination: LaneKey | '';
  onDestinationChange: (destination: LaneKey | '') => void;
  onClearSelection: () => void;
  onApplied: (change: AllocationChangeView) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const [preview, setPreview] = useState<Preview | null>(null);
  // What the last Preview press was made from: its problems are shown only while that holds.
  const [attempt, setAttempt] = useState<{ signature: string; problem: string | null } | null>(null);
  const reasonId = useId();
  const destinationId = useId();

  const signature = JSON.stringify([[...selected].sort(), destination, reason]);
  const currentPreview = preview && preview.signature === signature ? preview : null;

  const dryRun = useMutation(trpc.allocation.submit.mutationOptions());
  const apply = useMutation(
    trpc.allocation.submit.mutationOptions({
      onSuccess: (result) => {
        if ('dryRun' in result) return;
        queryClient.setQueryData(trpc.allocation.board.queryKey(), (known) =>
          known ? { ...known, changes: mergeChanges([result], known.changes) } : known,
        );
        void queryClient.invalidateQueries(trpc.allocation.board.queryFilter());
        setPreview(null);
        setReason('');
        onApplied(result);
      },
    }),
  );
  const attemptIsCurrent = attempt?.signature === signature;
  const localError = attemptIsCurrent ? attempt.problem : null;
  const failure = currentPreview ? apply.error : attemptIsCurrent ? dryRun.error : null;

  const reloadBoard = () => {
    setPreview(null);
    dryRun.reset();
    apply.reset();
    void queryClient.invalidateQueries(trpc.allocation.board.queryFilter());
  };

  const runPreview = (event: FormEvent) => {
    event.preventDefault();
    apply.reset();
    if (!destination) {
      setAttempt({ signature, problem: 'Choose where to move the selected GPUs.' });
      return;
    }
    const change = prepareChange(board, selected, destination);
    if (change.moves.length === 0) {
      const owner = ownerName(ownerFromKey(destination), names);
      setAttempt({ signature, problem: `The selected GPUs already belong to ${owner}.` });
      return;
    }
    setAttempt({ signature, problem: null });
    dryRun.mutate(
      { moves: change.moves, baseVersions: change.baseVersions, reason, dryRun: true, source: 'manual' },
      {
        onSuccess: (result) => {
          if (!('dryRun' in result)) return;
          setPreview({ signature, change, reason, result, idempotencyKey: newIdempotencyKey() });
        },
      },
    );
  };

  const runApply = () => {
    if (!currentPreview) return;
    apply.mutate({
      moves: currentPreview.change.moves,
      baseVersions: currentPreview.change.baseVersions,
      reason: currentPreview.reason,
      idempotencyKey: currentPreview.idempotencyKey,
      source: 'manual',
    });
  };

  const openJobs = board.jobs.filter(isOpenJob);

  return (
    <section className="panel move-panel" data-testid="move-panel" aria-label="Move GPUs">
      <form className="move-form" onSubmit={runPreview}>
        <div className="move-selection">
          <strong data-testid="selected-count">{selected.size}</strong> GPU{selected.size === 1 ? '' : 's'}{' '}
          selected
          {selected.size > 0 && (
            <button type="button" className="button button-ghost button-small" onClick={onClearSelection}>
              Clear
            </button>
          )}
        </div>
        <label className="filter" htmlFor={destinationId}>
          <span className="filter-label">Move to…</span>
          <select
            id={destinationId}
            value={destination}
            onChange={(e) => onDestinationChange(e.target.value as LaneKey | '')}
          >
            <option value="">Choose a destination</option>
            <optgroup label="Deployments">
              {sortDeployments(board.deployments).map((d) => (
                <option key={d.id} value={`deployment:${d.id}`}>
                  {d.name}
                </option>
              ))}
            </optgroup>
            {openJobs.length > 0 && (
              <optgroup label="Jobs">
                {openJobs.map((j) => (
                  <option key={j.id} value={`job:${j.id}`}>
                    {j.name}
                  </option>
                ))}
              </optgroup>
            )}
            <option value={FREE_POOL}>Free pool (release)</option>
          </select>
        </label>
        <label className="filter move-reason" htmlFor={reasonId}>
          <span className="filter-label">Reason</span>
          <input
            id={reasonId}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            placeholder="e.g. chat-70b over its SLO"
            maxLength={500}
            autoComplete="off"
          />
        </label>
        <button type="submit" className="button" disabled={selected.size === 0 || dryRun.isPending}>
          {dryRun.isPending && <span className="spinner" aria-hidden="true" />}
          Preview
        </button>
        <button
          type="button"
          className="button button-primary"
          onClick={runApply}
          disabled={!currentPreview || apply.isPending}
          title={currentPreview ? undefined : 'Preview the change first'}
        >
          {apply.isPending && <span className="spinner" aria-hidden="true" />}
          Apply
        </button>
      </form>

      {localError && (
        <p className="form-error" role="alert">
          {localError}
        </p>
      )}
      {failure && <SubmitError error={failure} reloadLabel="Reload board" onReload={reloadBoard} />}
      {preview && !currentPreview && !failure && (
        <p className="muted small">The selection changed since the preview: preview again to apply.</p>
      )}
      {currentPreview && <PreviewDetails preview={currentPreview} names={names} />}
    </section>
  );
}

function PreviewDetails({ preview, names }: { preview: Preview; names: OwnerNames }) {
  const { change, result } = preview;
  return (
    <div className="move-preview" data-testid="move-preview">
      {change.unchanged.length > 0 && (
        <p className="muted small">
          {change.unchanged.length} selected GPU{change.unchanged.length === 1 ? ' is' : 's are'} there
          already and stay{change.unchanged.length === 1 ? 's' : ''} as{' '}
          {change.unchanged.length === 1 ? 'it is' : 'they are'}.
        </p>
      )}
      <div className="change-details-grid">
        <section>
          <h3 className="chart-title">Predicted effect</h3>
          <EffectsTable effects={result.effects} />
        </section>
        <section>
          <h3 className="chart-title">What would change ({result.moves.length} GPUs)</h3>
          <MovesTable moves={result.moves} names={names} />
        </section>
      </div>
    </div>
  );
}
