'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState } from 'react';
import { NotAllowed, usePermissions } from '@/components/auth/use-permissions';
import { useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState } from '@/components/ui/states';
import type { AllocationChangeView, MoveInput, Plan, PlanStep } from '@/lib/allocation/types';
import { newIdempotencyKey } from './idempotency';
import { type OwnerNames, summarizeMoves, versionsFor } from './model';
import { SubmitError } from './submit-error';
import { TrackedChange } from './tracked-change';

/** The server's limit on a change's reason. */
const REASON_MAX = 500;

/** "Plan, 9 steps: grow chat-70b (12 GPUs), reclaim embed-small (6 GPUs)" */
function planReason(steps: readonly PlanStep[], names: OwnerNames): string {
  const parts = new Map<string, number>();
  for (const step of steps) {
    const key = `${step.kind} ${names.deployments.get(step.deploymentId) ?? step.deploymentId}`;
    parts.set(key, (parts.get(key) ?? 0) + step.moves.length);
  }
  const summary = [...parts]
    .map(([part, gpus]) => `${part} (${gpus} GPU${gpus === 1 ? '' : 's'})`)
    .join(', ');
  return `Plan, ${steps.length} step${steps.length === 1 ? '' : 's'}: ${summary}`;
}

/**
 * The plan's steps as a diff, each with a checkbox (all checked at first). "Apply selected"
 * submits the union of the checked steps' moves as one change, based on the versions the
 * plan was computed against, so anything changed since is refused as a conflict.
 */
export function PlanSteps({
  plan,
  names,
  onRefresh,
}: {
  plan: Plan;
  names: OwnerNames;
  onRefresh: () => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { can } = usePermissions();
  const [checked, setChecked] = useState<ReadonlySet<string>>(() => new Set(plan.steps.map((s) => s.id)));
  const [reason, setReason] = useState('');
  const [tracked, setTracked] = useState<AllocationChangeView | null>(null);
  // One key per attempt (this plan, these steps): a retry after a lost reply is not applied twice.
  const keys = useRef(new Map<string, string>());
  const reasonId = useId();

  const selectedSteps = plan.steps.filter((s) => checked.has(s.id));
  const defaultReason = planReason(selectedSteps, names).slice(0, REASON_MAX);

  const apply = useMutation(
    trpc.allocation.submit.mutationOptions({
      onSuccess: (result) => {
        if ('dryRun' in result) return;
        setTracked(result);
        void queryClient.invalidateQueries(trpc.allocation.board.queryFilter());
      },
    }),
  );

  if (plan.steps.length === 0) {
    return (
      <EmptyState>
        Nothing to rebalance: every deployment is within its SLO or has no better option.
      </EmptyState>
    );
  }

  const toggle = (id: string) =>
    setChecked((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const applySelected = () => {
    const byGpu = new Map<string, PlanStep['moves'][number]>();
    for (const step of selectedSteps) for (const move of step.moves) byGpu.set(move.gpuId, move);
    const moves: MoveInput[] = [...byGpu.values()].map((m) => ({ gpuId: m.gpuId, to: m.to }));
    const attempt = selectedSteps.map((s) => s.id).join(',');
    let idempotencyKey = keys.current.get(attempt);
    if (!idempotencyKey) {
      idempotencyKey = newIdempotencyKey();
      keys.current.set(attempt, idempotencyKey);
    }
    apply.mutate({
      moves,
      baseVersions: versionsFor([...byGpu.values()], plan.baseVersions),
      reason: reason.trim() || defaultReason,
      idempotencyKey,
      source: 'plan',
    });
  };

  return (
    <div className="plan-steps">
      <div className="table-wrap">
        <table className="table" data-testid="plan-steps">
          <thead>
            <tr>
              <th>
                <input
                  type="checkbox"
                  aria-label="Select every step"
                  checked={checked.size === plan.steps.length}
                  onChange={(e) => setChecked(new Set(e.target.checked ? plan.steps.map((s) => s.id) : []))}
                />
              </th>
              <th>Step</th>
              <th>Deployment</th>
              <th>Reason</th>
              <th>GPUs from → to</th>
            </tr>
          </thead>
          <tbody>
            {plan.steps.map((step) => (
              <tr key={step.id} data-testid="plan-step" data-step-id={step.id} data-kind={step.kind}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Include ${step.id}`}
                    checked={checked.has(step.id)}
                    onChange={() => toggle(step.id)}
                  />
                </td>
                <td>
                  <Badge tone={step.kind === 'grow' ? 'ok' : 'warn'}>{step.kind}</Badge>
                </td>
                <td className="strong nowrap">
                  {names.deployments.get(step.deploymentId) ?? step.deploymentId}
                </td>
                <td className="small">{step.reason}</td>
                <td className="small">
                  <div>{summarizeMoves(step.moves, names)}</div>
                  <div className="muted mono plan-gpus">{step.moves.map((m) => m.gpuLabel).join(' ')}</div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {can('applyPlan') ? (
        <div className="plan-apply">
          <label className="filter move-reason" htmlFor={reasonId}>
            <span className="filter-label">Reason (optional: a summary of the steps otherwise)</span>
            <input
              id={reasonId}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              placeholder={defaultReason}
              maxLength={REASON_MAX}
              autoComplete="off"
            />
          </label>
          <button
            type="button"
            className="button button-primary"
            disabled={selectedSteps.length === 0 || apply.isPending || tracked !== null}
            title={tracked ? 'This plan has been applied: refresh it first' : undefined}
            onClick={applySelected}
          >
            {apply.isPending && <span className="spinner" aria-hidden="true" />}
            Apply selected ({selectedSteps.length})
          </button>
        </div>
      ) : (
        <NotAllowed action="applyPlan" />
      )}
      {apply.error && <SubmitError error={apply.error} reloadLabel="Refresh plan" onReload={onRefresh} />}
      {tracked && (
        <>
          <TrackedChange
            key={tracked.id}
            initial={tracked}
            names={names}
            onDismiss={() => setTracked(null)}
          />
          <p className="muted small">
            This plan was computed before that change: refresh it to see what is left.
          </p>
        </>
      )}
    </div>
  );
}
