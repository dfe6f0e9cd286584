'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import type { ReactNode } from 'react';
import { type LiveStatus, useLiveConnection } from '@/components/live/use-live';
import { useTRPC } from '@/components/trpc/client';

const NAV = [
  { href: '/', label: 'Overview' },
  { href: '/nodes', label: 'Nodes' },
  { href: '/deployments', label: 'Deployments' },
  { href: '/allocations', label: 'Allocations' },
  { href: '/stress', label: 'Stress tests' },
  { href: '/api-docs', label: 'API' },
] as const;

export function ConsoleShell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  return (
    <div className="shell">
      <header className="topbar">
        <Link href="/" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Switchyard
        </Link>
        <nav className="nav" aria-label="Main">
          {NAV.map((item) => {
            const active = item.href === '/' ? pathname === '/' : pathname.startsWith(item.href);
            return (
              <Link
                key={item.href}
                href={item.href}
                className={active ? 'nav-link active' : 'nav-link'}
                aria-current={active ? 'page' : undefined}
              >
                {item.label}
              </Link>
            );
          })}
        </nav>
        <div className="topbar-end">
          <LiveIndicator />
          <UserMenu />
        </div>
      </header>
      <main className="content">{children}</main>
    </div>
  );
}

const LIVE_LABEL: Record<LiveStatus, string> = {
  idle: 'Not connected',
  connecting: 'Connecting',
  connected: 'Live',
  reconnecting: 'Reconnecting',
  unauthorized: 'Signed out',
};

function LiveIndicator() {
  // Holds the page's one live connection open for as long as the console is shown.
  const status = useLiveConnection();
  return (
    <span
      className={`live-indicator live-${status}`}
      data-testid="live-indicator"
      data-status={status}
      title={`Live updates: ${LIVE_LABEL[status].toLowerCase()}`}
    >
      <span className="live-dot" aria-hidden="true" />
      {LIVE_LABEL[status]}
    </span>
  );
}

function UserMenu() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  const logout = useMutation(
    trpc.auth.logout.mutationOptions({
      onSettled: () => {
        window.location.assign('/login');
      },
    }),
  );
  return (
    <div className="user-menu">
      {me.data ? (
        <span className="user" data-testid="current-user">
          <span className="user-name">{me.data.name}</span>
          <span className="user-role">{me.data.role}</span>
        </span>
      ) : me.error ? (
        <span className="user muted" title={me.error.message}>
          unknown user
        </span>
      ) : (
        <span className="user muted">…</span>
      )}
      <button
        type="button"
        className="button button-ghost"
        onClick={() => logout.mutate()}
        disabled={logout.isPending}
      >
        Sign out
      </button>
    </div>
  );
}
