'use client';

import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { useTRPC } from '@/components/trpc/client';
import { ErrorState, Loading } from '@/components/ui/states';

/** Renders `children` for admins; others see the page's title and why they cannot use it. */
export function AdminsOnly({ title, why, children }: { title: string; why: string; children: ReactNode }) {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  if (me.error) return <ErrorState error={me.error} />;
  if (!me.data) return <Loading />;
  if (me.data.role !== 'admin') {
    return (
      <div className="page">
        <div className="page-header">
          <h1>{title}</h1>
        </div>
        <ErrorState title="Admins only" error={why} />
      </div>
    );
  }
  return <>{children}</>;
}

/** Whether the signed-in person is an admin (false while unknown). */
export function useIsAdmin(): boolean {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  return me.data?.role === 'admin';
}
