'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { RefusedButton, usePermissions } from '@/components/auth/use-permissions';
import { fmtSeconds } from '@/components/stress/run-state';
import { type StressRun, useNow } from '@/components/stress/use-stress-run';
import { useTRPC } from '@/components/trpc/client';

/** Stops a run (or a capacity search): a second click confirms. */
export function AbortButton({ id }: { id: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { can } = usePermissions();
  const [confirming, setConfirming] = useState(false);
  const abort = useMutation(
    trpc.stress.abort.mutationOptions({
      onSettled: () => queryClient.invalidateQueries(trpc.stress.get.queryFilter({ id })),
    }),
  );
  if (!can('abortStress')) return <RefusedButton action="abortStress">Abort</RefusedButton>;
  return (
    <span className="stress-abort">
      {confirming ? (
        <>
          <button
            type="button"
            className="button stress-abort-confirm"
            disabled={abort.isPending}
            onClick={() => abort.mutate({ id })}
            data-testid="stress-abort-confirm"
          >
            {abort.isPending && <span className="spinner" aria-hidden="true" />}
            Stop the load now
          </button>
          <button type="button" className="button button-ghost" onClick={() => setConfirming(false)}>
            Keep running
          </button>
        </>
      ) : (
        <button
          type="button"
          className="button"
          onClick={() => setConfirming(true)}
          data-testid="stress-abort"
        >
          Abort
        </button>
      )}
      {abort.error && (
        <span className="inline-error" role="alert">
          {abort.error.message}
        </span>
      )}
    </span>
  );
}

export function ExportLinks({ id }: { id: string }) {
  return (
    <span className="stress-export">
      <a
        className="button button-small"
        href={`/api/stress/${id}/export?format=json`}
        data-testid="stress-export-json"
      >
        Export JSON
      </a>
      <a
        className="button button-small"
        href={`/api/stress/${id}/export?format=csv`}
        data-testid="stress-export-csv"
      >
        Export CSV
      </a>
    </span>
  );
}

/** Elapsed against planned duration, with the phase and the time left. */
export function RunProgress({ run }: { run: StressRun }) {
  const now = useNow(true);
  const startAt = Date.parse(run.startAt);
  const elapsed = Math.max(0, Math.min(run.durationS, (now - startAt) / 1000));
  const pct = run.durationS > 0 ? (elapsed / run.durationS) * 100 : 0;
  const phase =
    now < startAt
      ? 'starting'
      : elapsed < run.warmupS
        ? 'warming up'
        : run.stopping
          ? 'stopping'
          : 'measuring';
  return (
    <div className="stress-progress" data-testid="stress-progress" data-elapsed={Math.round(elapsed)}>
      <div
        className="stress-progress-bar"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={Math.round(run.durationS)}
        aria-valuenow={Math.round(elapsed)}
        aria-label="Run progress"
      >
        <span
          className="stress-progress-warmup"
          style={{ width: `${(run.warmupS / Math.max(run.durationS, 1)) * 100}%` }}
        />
        <span className="stress-progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="small">
        <strong>{phase}</strong> · {fmtSeconds(elapsed)} of {fmtSeconds(run.durationS)} ·{' '}
        {fmtSeconds(Math.max(0, run.durationS - elapsed))} left
      </span>
    </div>
  );
}
