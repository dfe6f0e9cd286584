'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { type FormEvent, useId, useState } from 'react';
import { useTRPC } from '@/components/trpc/client';
import { CONFIRM_PRIORITY } from '@/lib/stress/run-definition';

/**
 * Starts a load run: open loop (a rate, constant or Poisson, in ramp stages) or closed
 * loop (a number of workers). Values go to the server as typed; its refusal names the
 * field, and is shown as it comes.
 */

export type StressTarget = {
  id: string;
  name: string;
  priority: number;
  sloP95Ms: number;
  /** Connected agents that can load it now. */
  agents: number;
};

type StageInput = { durationS: string; fromRps: string; toRps: string };

const num = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

/** The first deployment an agent can load without a confirmation, else the first one. */
export function defaultTarget(targets: readonly StressTarget[]): StressTarget | undefined {
  return targets.find((t) => t.agents > 0 && t.priority < CONFIRM_PRIORITY) ?? targets[0];
}

export function StartRunForm({
  targets,
  initialDeploymentId,
}: {
  targets: StressTarget[];
  initialDeploymentId?: string;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const ids = useId();
  const [deploymentId, setDeploymentId] = useState(initialDeploymentId ?? defaultTarget(targets)?.id ?? '');
  const [kind, setKind] = useState<'open' | 'closed'>('open');
  const [arrival, setArrival] = useState<'constant' | 'poisson'>('poisson');
  const [stages, setStages] = useState<StageInput[]>([{ durationS: '60', fromRps: '50', toRps: '50' }]);
  const [concurrency, setConcurrency] = useState('16');
  const [closedDurationS, setClosedDurationS] = useState('60');
  const [warmupS, setWarmupS] = useState('5');
  const [thresholds, setThresholds] = useState('p95 < 250ms\nerrors < 1%');
  const [abortOnFail, setAbortOnFail] = useState(true);
  const [graceS, setGraceS] = useState('10');
  const [path, setPath] = useState('/v1/completions');
  const [confirm, setConfirm] = useState('');

  const target = targets.find((t) => t.id === deploymentId);
  const needsConfirm = target !== undefined && target.priority >= CONFIRM_PRIORITY;

  const start = useMutation(
    trpc.stress.start.mutationOptions({
      onSuccess: async (run) => {
        await queryClient.invalidateQueries(trpc.stress.list.pathFilter());
        router.push(`/stress/${run.id}`);
      },
    }),
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate({
      deploymentId,
      load:
        kind === 'open'
          ? {
              kind: 'open',
              arrival,
              stages: stages.map((s) => ({
                durationS: num(s.durationS),
                fromRps: num(s.fromRps),
                toRps: num(s.toRps),
              })),
            }
          : { kind: 'closed', concurrency: num(concurrency), durationS: num(closedDurationS) },
      warmupS: num(warmupS),
      thresholds: thresholds
        .split(/[\n,]/)
        .map((t) => t.trim())
        .filter(Boolean),
      abortOnFail,
      graceS: num(graceS),
      request: { path },
      confirm: needsConfirm ? confirm : undefined,
    });
  };

  const setStage = (index: number, field: keyof StageInput, value: string) =>
    setStages((list) => list.map((s, i) => (i === index ? { ...s, [field]: value } : s)));

  const totalS =
    kind === 'open' ? stages.reduce((sum, s) => sum + (num(s.durationS) || 0), 0) : num(closedDurationS) || 0;

  return (
    <form className="stress-form" onSubmit={submit} data-testid="stress-start-form">
      <div className="stress-form-row">
        <label className="field" htmlFor={`${ids}-deployment`}>
          <span className="field-label">Deployment</span>
          <select
            id={`${ids}-deployment`}
            value={deploymentId}
            onChange={(e) => {
              setDeploymentId(e.target.value);
              setConfirm('');
            }}
            data-testid="stress-deployment"
          >
            {targets.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name} · priority {t.priority} ·{' '}
                {t.agents === 0 ? 'no agent' : `${t.agents} agent${t.agents === 1 ? '' : 's'}`}
              </option>
            ))}
          </select>
        </label>
        <fieldset className="stress-choice">
          <legend className="field-label">Load model</legend>
          <label>
            <input type="radio" name="kind" checked={kind === 'open'} onChange={() => setKind('open')} /> Open
            loop (a rate, whatever the answers)
          </label>
          <label>
            <input
              type="radio"
              name="kind"
              checked={kind === 'closed'}
              onChange={() => setKind('closed')}
              data-testid="stress-closed-loop"
            />{' '}
            Closed loop (fixed workers; hides queueing delay)
          </label>
        </fieldset>
      </div>

      {kind === 'open' ? (
        <div className="stress-form-block">
          <fieldset className="stress-choice">
            <legend className="field-label">Arrivals</legend>
            <label>
              <input type="radio" checked={arrival === 'poisson'} onChange={() => setArrival('poisson')} />{' '}
              Poisson
            </label>
            <label>
              <input type="radio" checked={arrival === 'constant'} onChange={() => setArrival('constant')} />{' '}
              Constant
            </label>
          </fieldset>
          <table className="table table-compact stress-stages" data-testid="stress-stages">
            <thead>
              <tr>
                <th>Stage</th>
                <th>Duration (s)</th>
                <th>From (req/s)</th>
                <th>To (req/s)</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {stages.map((s, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: stages have no identity beyond their position.
                <tr key={i}>
                  <td className="muted">{i + 1}</td>
                  {(['durationS', 'fromRps', 'toRps'] as const).map((field) => (
                    <td key={field}>
                      <input
                        className="stress-number"
                        inputMode="decimal"
                        aria-label={`Stage ${i + 1} ${field}`}
                        value={s[field]}
                        onChange={(e) => setStage(i, field, e.target.value)}
                      />
                    </td>
                  ))}
                  <td>
                    {stages.length > 1 && (
                      <button
                        type="button"
                        className="button button-ghost button-small"
                        onClick={() => setStages((list) => list.filter((_, j) => j !== i))}
                      >
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              const last = stages[stages.length - 1];
              setStages([
                ...stages,
                { durationS: '30', fromRps: last?.toRps ?? '10', toRps: last?.toRps ?? '10' },
              ]);
            }}
          >
            Add a stage
          </button>
        </div>
      ) : (
        <div className="stress-form-row">
          <label className="field">
            <span className="field-label">Workers (closed loop)</span>
            <input
              className="stress-number"
              value={concurrency}
              onChange={(e) => setConcurrency(e.target.value)}
            />
          </label>
          <label className="field">
            <span className="field-label">Duration (s)</span>
            <input
              className="stress-number"
              value={closedDurationS}
              onChange={(e) => setClosedDurationS(e.target.value)}
            />
          </label>
        </div>
      )}

      <div className="stress-form-row">
        <label className="field">
          <span className="field-label">Warm-up (s, not judged)</span>
          <input className="stress-number" value={warmupS} onChange={(e) => setWarmupS(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Request path</span>
          <input value={path} onChange={(e) => setPath(e.target.value)} />
        </label>
        <span className="muted stress-total">Runs {totalS} s in all, warm-up included.</span>
      </div>

      <div className="stress-form-row">
        <label className="field stress-thresholds-field">
          <span className="field-label">Thresholds, one per line (p50…p99.9, max, errors, late)</span>
          <textarea
            rows={3}
            value={thresholds}
            onChange={(e) => setThresholds(e.target.value)}
            data-testid="stress-thresholds-input"
          />
        </label>
        <div className="stress-form-block">
          <label className="stress-check">
            <input type="checkbox" checked={abortOnFail} onChange={(e) => setAbortOnFail(e.target.checked)} />{' '}
            Abort when a threshold fails
          </label>
          <label className="field">
            <span className="field-label">Grace after warm-up (s)</span>
            <input
              className="stress-number"
              value={graceS}
              disabled={!abortOnFail}
              onChange={(e) => setGraceS(e.target.value)}
            />
          </label>
        </div>
      </div>

      {needsConfirm && (
        <label className="field stress-confirm">
          <span className="field-label">
            {target.name} has priority {target.priority}: type its name to load it
          </span>
          <input
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            placeholder={target.name}
            autoComplete="off"
            data-testid="stress-confirm"
          />
        </label>
      )}

      <div className="stress-form-actions">
        <button
          type="submit"
          className="button button-primary"
          disabled={start.isPending || !deploymentId}
          data-testid="stress-start"
        >
          {start.isPending && <span className="spinner" aria-hidden="true" />}
          Start run
        </button>
        {target && target.agents === 0 && (
          <span className="muted">No connected agent serves {target.name} now; the server will refuse.</span>
        )}
      </div>
      {start.error && (
        <p className="form-error" role="alert" data-testid="stress-start-error">
          {start.error.message}
        </p>
      )}
    </form>
  );
}
