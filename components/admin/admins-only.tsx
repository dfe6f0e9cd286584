'use client';

import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import type { Action } from '@/components/auth/permissions';
import { usePermissions } from '@/components/auth/use-permissions';
import { useTRPC } from '@/components/trpc/client';
import { ErrorState, Loading } from '@/components/ui/states';

/**
 * Renders `children` to those who may take `action` (admins); others see the page's title,
 * what it is for (`why`) and the role it needs.
 */
export function AdminsOnly({
  title,
  action,
  why,
  children,
}: {
  title: string;
  action: Action;
  why: string;
  children: ReactNode;
}) {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  const { can, whyNot } = usePermissions();
  if (me.error) return <ErrorState error={me.error} />;
  if (!me.data) return <Loading />;
  if (!can(action)) {
    return (
      <div className="page">
        <div className="page-header">
          <h1>{title}</h1>
        </div>
        <ErrorState title="Admins only" error={`${why} ${whyNot(action) ?? ''}`.trim()} />
      </div>
    );
  }
  return <>{children}</>;
}
