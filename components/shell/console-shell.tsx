'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import type { ReactNode } from 'react';
import { type Action, ROLE_SUMMARY } from '@/components/auth/permissions';
import { usePermissions } from '@/components/auth/use-permissions';
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

/** Each shown to those who may use it, admins (the pages and the API refuse everyone else anyway). */
const ADMIN_NAV: readonly { href: string; label: string; action: Action }[] = [
  { href: '/admin/users', label: 'Users', action: 'manageUsers' },
  { href: '/admin/tokens', label: 'API tokens', action: 'manageApiTokens' },
  { href: '/admin/enrollment', label: 'Enrollment', action: 'manageEnrollment' },
  { href: '/admin/audit', label: 'Audit log', action: 'readAuditLog' },
];

function NavLinks({
  items,
  pathname,
}: {
  items: readonly { href: string; label: string }[];
  pathname: string;
}) {
  return items.map((item) => {
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
  });
}

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
          <NavLinks items={NAV} pathname={pathname} />
        </nav>
        <AdminNav pathname={pathname} />
        <div className="topbar-end">
          <LiveIndicator />
          <UserMenu />
        </div>
      </header>
      <main className="content">{children}</main>
    </div>
  );
}

function AdminNav({ pathname }: { pathname: string }) {
  const { can } = usePermissions();
  const items = ADMIN_NAV.filter((item) => can(item.action));
  if (items.length === 0) return null;
  return (
    <nav className="nav nav-admin" aria-label="Admin">
      <span className="nav-group-label" aria-hidden="true">
        Admin
      </span>
      <NavLinks items={items} pathname={pathname} />
    </nav>
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
        <Link
          href="/account"
          className="user"
          data-testid="current-user"
          data-role={me.data.role}
          title={`Signed in as ${me.data.name}, ${me.data.role}: ${ROLE_SUMMARY[me.data.role]}. Your password and sessions.`}
        >
          <span className="user-name">{me.data.name}</span>
          <span className="user-role" data-testid="current-role">
            {me.data.role}
          </span>
        </Link>
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
