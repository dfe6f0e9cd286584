'use client';

import { useQuery } from '@tanstack/react-query';
import { AllocationTabs } from '@/components/allocation/allocation-tabs';
import { AutoModePanel } from '@/components/allocation/auto-mode-panel';
import { EffectsTable } from '@/components/allocation/effects-table';
import { useOwnerNames } from '@/components/allocation/owner-names';
import { PlanSteps } from '@/components/allocation/plan-steps';
import { useAllocationChanges } from '@/components/live/use-allocation-changes';
import { useTRPC } from '@/components/trpc/client';
import { Panel, QueryView } from '@/components/ui/states';

export function PlanView() {
  const trpc = useTRPC();
  useAllocationChanges();
  const names = useOwnerNames();
  // A plan stays put while it is read; it is recomputed only on request.
  const plan = useQuery(
    trpc.allocation.plan.queryOptions(undefined, {
      staleTime: Number.POSITIVE_INFINITY,
      refetchOnWindowFocus: false,
    }),
  );
  const refresh = () => void plan.refetch();

  return (
    <div className="page">
      <div className="page-header">
        <h1>Rebalancing plan</h1>
        <AllocationTabs />
      </div>
      <Panel
        title="Steps"
        testId="plan"
        actions={
          <span className="panel-actions-row">
            {plan.data && (
              <span className="muted" data-testid="plan-computed">
                computed in {plan.data.computedMs.toFixed(0)} ms,{' '}
                {new Date(plan.dataUpdatedAt).toLocaleTimeString()}
              </span>
            )}
            <button
              type="button"
              className="button button-ghost"
              onClick={refresh}
              disabled={plan.isFetching}
            >
              {plan.isFetching && <span className="spinner" aria-hidden="true" />}
              Refresh plan
            </button>
          </span>
        }
      >
        {plan.data && plan.error && (
          <p className="inline-error">Could not refresh the plan: {plan.error.message}</p>
        )}
        <QueryView query={plan} loadingLabel="Planning…">
          {(data) => <PlanSteps key={plan.dataUpdatedAt} plan={data} names={names} onRefresh={refresh} />}
        </QueryView>
      </Panel>
      {plan.data && (
        <Panel title="Predicted effect of the whole plan">
          <EffectsTable effects={plan.data.effects} />
        </Panel>
      )}
      <AutoModePanel />
    </div>
  );
}
