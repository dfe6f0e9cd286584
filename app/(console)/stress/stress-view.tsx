'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useMemo, useState } from 'react';
import { NotAllowed, usePermissions } from '@/components/auth/use-permissions';
import { CapacitySearchForm } from '@/components/stress/capacity-form';
import { RunsTable } from '@/components/stress/runs-table';
import { StartRunForm, type StressTarget } from '@/components/stress/start-run-form';
import { useTRPC } from '@/components/trpc/client';
import { Loading, Panel, QueryView } from '@/components/ui/states';

export function StressView({ initialDeploymentId }: { initialDeploymentId?: string }) {
  const trpc = useTRPC();
  const { role, can } = usePermissions();
  const canOperate = can('startStress');
  const [filter, setFilter] = useState(initialDeploymentId ?? '');
  const [mode, setMode] = useState<'load' | 'capacity'>('load');
  const [selected, setSelected] = useState<string[]>([]);
  const deployments = useQuery(trpc.fleet.deployments.queryOptions(undefined, { staleTime: 30_000 }));
  const agentTargets = useQuery(trpc.stress.targets.queryOptions(undefined, { refetchInterval: 10_000 }));
  const runs = useQuery(
    trpc.stress.list.queryOptions(
      { deploymentId: filter || undefined, limit: 100 },
      { refetchInterval: 5_000 },
    ),
  );

  const targets: StressTarget[] = useMemo(
    () =>
      (deployments.data ?? []).map((d) => ({
        id: d.id,
        name: d.name,
        priority: d.priority,
        sloP95Ms: d.sloP95Ms,
        agents: agentTargets.data?.find((t) => t.deploymentId === d.id)?.agents ?? 0,
      })),
    [deployments.data, agentTargets.data],
  );

  const toggle = (id: string) =>
    setSelected((list) => (list.includes(id) ? list.filter((x) => x !== id) : [...list.slice(-1), id]));

  return (
    <div className="page">
      <div className="page-header">
        <h1>Stress tests</h1>
        <span className="muted">
          Open-loop load from the agents, merged histograms, thresholds that stop the run.
        </span>
      </div>

      <Panel
        title="New stress test"
        actions={
          canOperate && (
            <fieldset className="window-selector" aria-label="Kind of test">
              <button
                type="button"
                className={mode === 'load' ? 'window-option active' : 'window-option'}
                aria-pressed={mode === 'load'}
                onClick={() => setMode('load')}
              >
                Load run
              </button>
              <button
                type="button"
                className={mode === 'capacity' ? 'window-option active' : 'window-option'}
                aria-pressed={mode === 'capacity'}
                onClick={() => setMode('capacity')}
                data-testid="stress-mode-capacity"
              >
                Capacity search
              </button>
            </fieldset>
          )
        }
      >
        {role !== null && !canOperate ? (
          <NotAllowed action="startStress" />
        ) : canOperate && deployments.data && (agentTargets.data || agentTargets.error) ? (
          mode === 'load' ? (
            <StartRunForm targets={targets} initialDeploymentId={initialDeploymentId} />
          ) : (
            <CapacitySearchForm targets={targets} initialDeploymentId={initialDeploymentId} />
          )
        ) : (
          <Loading label="Loading deployments…" />
        )}
      </Panel>

      <Panel
        title="History"
        actions={
          <span className="panel-actions-row">
            <label className="filter filter-inline">
              <span className="filter-label">Deployment</span>
              <select value={filter} onChange={(e) => setFilter(e.target.value)} data-testid="stress-filter">
                <option value="">All</option>
                {(deployments.data ?? []).map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            </label>
            {selected.length === 2 ? (
              <Link
                className="button button-small"
                href={`/stress/compare?a=${selected[0]}&b=${selected[1]}`}
                data-testid="stress-compare"
              >
                Compare the two
              </Link>
            ) : (
              <span className="muted small">Tick two runs to compare them</span>
            )}
          </span>
        }
      >
        <QueryView query={runs} loadingLabel="Loading stress runs…">
          {(list) => <RunsTable runs={list} selected={selected} onToggle={toggle} />}
        </QueryView>
        {runs.data && runs.error && <p className="inline-error">Could not refresh: {runs.error.message}</p>}
      </Panel>
    </div>
  );
}
