'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { defaultTarget, type StressTarget } from '@/components/stress/start-run-form';
import { useTRPC } from '@/components/trpc/client';
import { CONFIRM_PRIORITY } from '@/lib/stress/run-definition';

const num = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

/**
 * Starts a capacity search: open-loop steps that double the rate until the SLO breaks,
 * then bisect, each step warmed up and checked for stability.
 */
export function CapacitySearchForm({
  targets,
  initialDeploymentId,
}: {
  targets: StressTarget[];
  initialDeploymentId?: string;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [deploymentId, setDeploymentId] = useState(initialDeploymentId ?? defaultTarget(targets)?.id ?? '');
  const target = targets.find((t) => t.id === deploymentId);
  const [slo, setSlo] = useState('');
  const [startRps, setStartRps] = useState('10');
  const [maxRps, setMaxRps] = useState('1000');
  const [stepDurationS, setStepDurationS] = useState('30');
  const [warmupS, setWarmupS] = useState('5');
  const [errorBudgetPct, setErrorBudgetPct] = useState('1');
  const [confirm, setConfirm] = useState('');
  const needsConfirm = target !== undefined && target.priority >= CONFIRM_PRIORITY;

  const start = useMutation(
    trpc.stress.startCapacitySearch.mutationOptions({
      onSuccess: async (run) => {
        await queryClient.invalidateQueries(trpc.stress.list.pathFilter());
        router.push(`/stress/${run.id}`);
      },
    }),
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate({
      mode: 'capacity',
      deploymentId,
      sloP95Ms: slo.trim() === '' ? undefined : num(slo),
      startRps: num(startRps),
      maxRps: num(maxRps),
      stepDurationS: num(stepDurationS),
      warmupS: num(warmupS),
      errorBudgetPct: num(errorBudgetPct),
      confirm: needsConfirm ? confirm : undefined,
    });
  };

  const field = (label: string, value: string, set: (v: string) => void, placeholder?: string) => (
    <label className="field">
      <span className="field-label">{label}</span>
      <input
        className="stress-number"
        value={value}
        placeholder={placeholder}
        onChange={(e) => set(e.target.value)}
      />
    </label>
  );

  return (
    <form className="stress-form" onSubmit={submit} data-testid="capacity-form">
      <div className="stress-form-row">
        <label className="field">
          <span className="field-label">Deployment</span>
          <select
            value={deploymentId}
            onChange={(e) => {
              setDeploymentId(e.target.value);
              setConfirm('');
            }}
          >
            {targets.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name} · SLO p95 {t.sloP95Ms} ms · {t.agents === 0 ? 'no agent' : `${t.agents} agent(s)`}
              </option>
            ))}
          </select>
        </label>
        {field('SLO p95 (ms)', slo, setSlo, target ? String(target.sloP95Ms) : '')}
        {field('Start (req/s)', startRps, setStartRps)}
        {field('Max (req/s)', maxRps, setMaxRps)}
      </div>
      <div className="stress-form-row">
        {field('Step length (s, measured)', stepDurationS, setStepDurationS)}
        {field('Warm-up per step (s)', warmupS, setWarmupS)}
        {field('Error budget (%)', errorBudgetPct, setErrorBudgetPct)}
      </div>
      {needsConfirm && (
        <label className="field stress-confirm">
          <span className="field-label">
            {target.name} has priority {target.priority}: type its name to load it
          </span>
          <input value={confirm} onChange={(e) => setConfirm(e.target.value)} placeholder={target.name} />
        </label>
      )}
      <div className="stress-form-actions">
        <button type="submit" className="button button-primary" disabled={start.isPending || !deploymentId}>
          {start.isPending && <span className="spinner" aria-hidden="true" />}
          Start capacity search
        </button>
        <span className="muted">Open loop; doubles the rate until p95 breaks the SLO, then bisects.</span>
      </div>
      {start.error && (
        <p className="form-error" role="alert">
          {start.error.message}
        </p>
      )}
    </form>
  );
}
