'use client';

import { useQuery } from '@tanstack/react-query';
import { type ReactNode, useId } from 'react';
import { useTRPC } from '@/components/trpc/client';
import { ACTIONS, type Action, allowed, type Role, refusal } from './permissions';

export type Permissions = {
  /** The signed-in person's role; null until `auth.me` answers. */
  role: Role | null;
  name: string | null;
  /** Whether they may take the action (false while the role is unknown). */
  can: (action: Action) => boolean;
  /** Why they may not, to show beside or on the control; null when they may, or while unknown. */
  whyNot: (action: Action) => string | null;
};

/**
 * "May I?" for the console, from the role `auth.me` reports. Presentation only: the server
 * checks every call again and stays the authority.
 */
export function usePermissions(): Permissions {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  const role = me.data?.role ?? null;
  return {
    role,
    name: me.data?.name ?? null,
    can: (action) => allowed(role, action),
    whyNot: (action) => refusal(role, action),
  };
}

/** The reason an action is out of reach, in place of (or beside) its control. */
export function NotAllowed({ action, className }: { action: Action; className?: string }) {
  const { whyNot } = usePermissions();
  const reason = whyNot(action);
  if (!reason) return null;
  return (
    <p
      className={`muted small not-allowed ${className ?? ''}`.trim()}
      data-testid="not-allowed"
      data-action={action}
    >
      {reason}
    </p>
  );
}

/**
 * A control the person may not use: shown disabled, with the reason as its tooltip and a
 * short note beside it ("Needs the operator role"). Nothing while the role is unknown.
 */
export function RefusedButton({ action, children }: { action: Action; children: ReactNode }) {
  const { whyNot } = usePermissions();
  const noteId = useId();
  const reason = whyNot(action);
  if (!reason) return null;
  return (
    <span className="panel-actions-row" title={reason} data-testid="not-allowed" data-action={action}>
      <button type="button" className="button" disabled aria-describedby={noteId}>
        {children}
      </button>
      <span id={noteId} className="muted small">
        Needs the {ACTIONS[action].role} role
      </span>
    </span>
  );
}
