'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { NotAllowed, usePermissions } from '@/components/auth/use-permissions';
import { fmtAgo } from '@/components/format';
import { type RouterOutputs, useTRPC } from '@/components/trpc/client';
import { Panel, QueryView } from '@/components/ui/states';

type AutoStatus = RouterOutputs['allocation']['autoStatus'];

/**
 * Automatic rebalancing: the planner's steps applied on a timer, within guardrails (how
 * many GPUs may move per interval, how often, and how long a deployment rests after a
 * change). The switch acts at once; the guardrails are saved together.
 */
export function AutoModePanel() {
  const trpc = useTRPC();
  const status = useQuery(trpc.allocation.autoStatus.queryOptions(undefined, { refetchInterval: 10_000 }));
  return (
    <Panel title="Auto mode" testId="auto-mode">
      <QueryView query={status} loadingLabel="Loading auto mode…">
        {(data) => <AutoModeControls status={data} />}
      </QueryView>
    </Panel>
  );
}

function AutoModeControls({ status }: { status: AutoStatus }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { can, whyNot } = usePermissions();
  const canOperate = can('changeAutoMode');
  const refused = whyNot('changeAutoMode') ?? undefined;
  const setAuto = useMutation(
    trpc.allocation.setAuto.mutationOptions({
      onSuccess: (next) => queryClient.setQueryData(trpc.allocation.autoStatus.queryKey(), next),
    }),
  );

  return (
    <div className="auto-mode">
      <div className="auto-mode-row">
        <button
          type="button"
          role="switch"
          aria-checked={status.enabled}
          aria-label="Auto mode"
          className={status.enabled ? 'switch switch-on' : 'switch'}
          disabled={!canOperate || setAuto.isPending}
          title={refused}
          onClick={() => setAuto.mutate({ enabled: !status.enabled })}
          data-testid="auto-mode-switch"
        >
          <span className="switch-knob" aria-hidden="true" />
        </button>
        <span>
          {status.enabled
            ? 'On: the plan is applied automatically within the guardrails.'
            : 'Off: plans are only applied by hand.'}
        </span>
      </div>
      <dl className="auto-mode-last">
        <dt className="muted">Last run</dt>
        <dd data-testid="auto-last-run">{status.lastRunAt ? fmtAgo(status.lastRunAt) : 'never'}</dd>
        <dt className="muted">Result</dt>
        <dd data-testid="auto-last-result">{status.lastResult ?? '—'}</dd>
      </dl>
      <Guardrails
        key={`${status.maxMovesPerInterval}/${status.intervalS}/${status.cooldownS}`}
        status={status}
        disabled={!canOperate}
        refused={refused}
        saving={setAuto.isPending}
        onSave={(guardrails) => setAuto.mutate(guardrails)}
      />
      {setAuto.error && (
        <p className="form-error" role="alert">
          {setAuto.error.message}
        </p>
      )}
      <NotAllowed action="changeAutoMode" />
    </div>
  );
}

type GuardrailValues = { maxMovesPerInterval: number; intervalS: number; cooldownS: number };

const FIELDS: { key: keyof GuardrailValues; label: string; unit: string }[] = [
  { key: 'maxMovesPerInterval', label: 'Max GPU moves per interval', unit: 'GPUs' },
  { key: 'intervalS', label: 'Interval', unit: 's' },
  { key: 'cooldownS', label: 'Cooldown per deployment', unit: 's' },
];

/** Blank is not zero: it is sent as not-a-number, and refused by name. */
function parseField(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}

function Guardrails({
  status,
  disabled,
  refused,
  saving,
  onSave,
}: {
  status: AutoStatus;
  disabled: boolean;
  /** Why the person may not change them, shown on the controls. */
  refused: string | undefined;
  saving: boolean;
  onSave: (values: GuardrailValues) => void;
}) {
  const [values, setValues] = useState<Record<keyof GuardrailValues, string>>({
    maxMovesPerInterval: String(status.maxMovesPerInterval),
    intervalS: String(status.intervalS),
    cooldownS: String(status.cooldownS),
  });
  const idPrefix = useId();
  const dirty = FIELDS.some(({ key }) => values[key] !== String(status[key]));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    // Out-of-range or blank values go to the server, which says which field is wrong.
    onSave({
      maxMovesPerInterval: parseField(values.maxMovesPerInterval),
      intervalS: parseField(values.intervalS),
      cooldownS: parseField(values.cooldownS),
    });
  };

  return (
    <form className="guardrails" onSubmit={submit}>
      {FIELDS.map(({ key, label, unit }) => (
        <div key={key} className="filter">
          <label className="filter-label" htmlFor={`${idPrefix}-${key}`}>
            {label} ({unit})
          </label>
          <input
            id={`${idPrefix}-${key}`}
            type="number"
            inputMode="numeric"
            min={0}
            value={values[key]}
            disabled={disabled}
            title={refused}
            onChange={(e) => setValues((v) => ({ ...v, [key]: e.target.value }))}
          />
        </div>
      ))}
      <button type="submit" className="button" disabled={disabled || saving || !dirty} title={refused}>
        {saving && <span className="spinner" aria-hidden="true" />}
        Save guardrails
      </button>
    </form>
  );
}
