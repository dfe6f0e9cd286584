'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { type FormEvent, useId, useState } from 'react';
import { AgentCommand } from '@/components/admin/agent-command';
import { NotAllowed, usePermissions } from '@/components/auth/use-permissions';
import { useTRPC } from '@/components/trpc/client';

type Action = 'replace' | 'revoke' | 'remove';

const ACTIONS: Record<Exclude<Action, 'replace'>, { label: string; hint: string; placeholder: string }> = {
  revoke: {
    label: 'Revoke credentials',
    hint: 'Its agent is disconnected and cannot connect again until re-enrolled with a replacement token.',
    placeholder: 'e.g. credential leaked, machine retired',
  },
  remove: {
    label: 'Remove node',
    hint: 'Deletes the node and its GPUs (refused while any GPU is allocated). The audit log keeps its history.',
    placeholder: 'e.g. decommissioned',
  },
};

/**
 * A node's identity, for admins (others are told why not): a replacement token for a
 * reinstalled machine (with the command to run on it), revoking its credentials, removing
 * it. Revoking and removing ask for a reason, which goes to the audit log; the server's
 * refusal is shown as is.
 */
export function NodeIdentityControl({ nodeId, hostname }: { nodeId: string; hostname: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const { can } = usePermissions();
  const [open, setOpen] = useState<Action | null>(null);
  const [reason, setReason] = useState('');
  const [replacement, setReplacement] = useState<string | null>(null);
  const ids = { reason: useId(), error: useId() };
  const close = () => {
    setOpen(null);
    setReason('');
  };
  const replace = useMutation(
    trpc.admin.createReplacementToken.mutationOptions({
      onSuccess: (result) => {
        setReplacement(result.token);
        close();
      },
    }),
  );
  const revoke = useMutation(
    trpc.admin.revokeNodeCredentials.mutationOptions({
      onSuccess: async () => {
        close();
        await queryClient.invalidateQueries(trpc.fleet.node.pathFilter());
      },
    }),
  );
  const remove = useMutation(
    trpc.admin.removeNode.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries(trpc.fleet.nodes.pathFilter());
        router.push('/nodes');
      },
    }),
  );
  if (!can('manageNodeIdentity')) return <NotAllowed action="manageNodeIdentity" className="header-note" />;

  if (replacement) {
    return (
      <AgentCommand
        title={`Replacement token for ${hostname}`}
        token={replacement}
        note={`Single use, valid for an hour: enroll the reinstalled machine under the hostname ${hostname}. Its old credential stops working.`}
        onDone={() => setReplacement(null)}
      />
    );
  }
  if (open === null || open === 'replace') {
    return (
      <span className="panel-actions-row" data-testid="node-identity-actions">
        <button
          type="button"
          className="button"
          disabled={replace.isPending}
          onClick={() => replace.mutate({ nodeId })}
        >
          Replacement token
        </button>
        <button type="button" className="button" onClick={() => setOpen('revoke')}>
          Revoke credentials…
        </button>
        <button type="button" className="button" onClick={() => setOpen('remove')}>
          Remove…
        </button>
        {replace.error && (
          <span className="inline-error" role="alert">
            {replace.error.message}
          </span>
        )}
      </span>
    );
  }
  const action = ACTIONS[open];
  const mutation = open === 'revoke' ? revoke : remove;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    mutation.mutate({ nodeId, reason });
  };
  return (
    <form className="cordon-form" onSubmit={submit} data-testid={`node-${open}-form`}>
      <label className="field" htmlFor={ids.reason}>
        <span className="field-label">
          Reason to {action.label.toLowerCase()} of {hostname}
        </span>
        <input
          id={ids.reason}
          name="reason"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          placeholder={action.placeholder}
          maxLength={500}
          autoComplete="off"
          // biome-ignore lint/a11y/noAutofocus: the form opens on request; typing the reason is the next step.
          autoFocus
          aria-invalid={mutation.error ? true : undefined}
          aria-describedby={mutation.error ? ids.error : undefined}
        />
      </label>
      <p className="muted small">{action.hint}</p>
      <div className="cordon-form-actions">
        <button type="submit" className="button button-primary" disabled={mutation.isPending}>
          {mutation.isPending && <span className="spinner" aria-hidden="true" />}
          {action.label}
        </button>
        <button
          type="button"
          className="button button-ghost"
          onClick={() => {
            close();
            mutation.reset();
          }}
        >
          Cancel
        </button>
      </div>
      {mutation.error && (
        <p className="form-error" role="alert" id={ids.error}>
          {mutation.error.message}
        </p>
      )}
    </form>
  );
}
