'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { RefusedButton, usePermissions } from '@/components/auth/use-permissions';
import { useTRPC } from '@/components/trpc/client';

/**
 * Cordon / uncordon a GPU or a whole node, for operators (and admins; others see it disabled,
 * with the reason). The action asks for a reason inline (it goes to the audit log); the
 * server's refusal, if any, is shown as is.
 */

type Target = { kind: 'gpu'; gpuId: string } | { kind: 'node'; nodeId: string };

export function CordonControl({ target, cordoned }: { target: Target; cordoned: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { can } = usePermissions();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const inputId = useId();
  const errorId = useId();

  const refresh = async () => {
    // Everything that shows cordon state: the GPU and node pages, lists, the heatmap.
    await Promise.all([
      queryClient.invalidateQueries(trpc.fleet.gpu.pathFilter()),
      queryClient.invalidateQueries(trpc.fleet.gpus.pathFilter()),
      queryClient.invalidateQueries(trpc.fleet.node.pathFilter()),
      queryClient.invalidateQueries(trpc.fleet.nodes.pathFilter()),
      queryClient.invalidateQueries(trpc.fleet.deployment.pathFilter()),
    ]);
  };
  const onSuccess = async () => {
    await refresh();
    setOpen(false);
    setReason('');
  };
  const cordonGpu = useMutation(trpc.fleet.cordonGpu.mutationOptions({ onSuccess }));
  const cordonNode = useMutation(trpc.fleet.cordonNode.mutationOptions({ onSuccess }));
  const mutation = target.kind === 'gpu' ? cordonGpu : cordonNode;

  const verb = cordoned ? 'Uncordon' : 'Cordon';
  const noun = target.kind === 'gpu' ? 'GPU' : 'node';
  if (!can('cordon')) return <RefusedButton action="cordon">{verb}</RefusedButton>;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    // Blank reasons go to the server too: it says what it needs.
    if (target.kind === 'gpu') cordonGpu.mutate({ gpuId: target.gpuId, cordoned: !cordoned, reason });
    else cordonNode.mutate({ nodeId: target.nodeId, cordoned: !cordoned, reason });
  };

  if (!open) {
    return (
      <button
        type="button"
        className="button"
        data-testid="cordon-toggle"
        onClick={() => {
          mutation.reset();
          setOpen(true);
        }}
      >
        {verb}
      </button>
    );
  }
  return (
    <form className="cordon-form" onSubmit={submit} data-testid="cordon-form">
      <label className="field" htmlFor={inputId}>
        <span className="field-label">
          Reason to {verb.toLowerCase()} this {noun}
        </span>
        <input
          id={inputId}
          name="reason"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          placeholder={cordoned ? 'e.g. repaired, back in service' : 'e.g. ECC errors, RMA pending'}
          maxLength={500}
          autoComplete="off"
          // biome-ignore lint/a11y/noAutofocus: the form opens on request; typing the reason is the next step.
          autoFocus
          aria-invalid={mutation.error ? true : undefined}
          aria-describedby={mutation.error ? errorId : undefined}
        />
      </label>
      <div className="cordon-form-actions">
        <button type="submit" className="button button-primary" disabled={mutation.isPending}>
          {mutation.isPending && <span className="spinner" aria-hidden="true" />}
          {verb} {noun}
        </button>
        <button
          type="button"
          className="button button-ghost"
          onClick={() => {
            setOpen(false);
            mutation.reset();
          }}
        >
          Cancel
        </button>
      </div>
      {mutation.error && (
        <p className="form-error" role="alert" id={errorId} data-testid="cordon-error">
          {mutation.error.message}
        </p>
      )}
    </form>
  );
}
