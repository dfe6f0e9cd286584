'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { fmtAgo } from '@/components/format';
import { type RouterOutputs, useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState, ErrorState, Loading, Panel, QueryView } from '@/components/ui/states';
import { PASSWORD_RULE } from '@/lib/password-rule';

type AccountSession = RouterOutputs['users']['sessions'][number];

/** For everyone signed in: change your password, see where you are signed in, end sessions. */
export function AccountView() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  if (me.error) return <ErrorState error={me.error} />;
  if (!me.data) return <Loading />;
  return (
    <div className="page">
      <div className="page-header">
        <h1>Your account</h1>
        <span className="muted">
          {me.data.name} · {me.data.role}
        </span>
      </div>
      <ChangePasswordForm />
      <SessionsPanel />
    </div>
  );
}

function ChangePasswordForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [currentPassword, setCurrentPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [repeated, setRepeated] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const ids = { current: useId(), next: useId(), repeat: useId() };
  const change = useMutation(
    trpc.users.changePassword.mutationOptions({
      onSuccess: async () => {
        setCurrentPassword('');
        setNewPassword('');
        setRepeated('');
        await queryClient.invalidateQueries(trpc.users.sessions.pathFilter());
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    change.reset();
    const differs = newPassword !== repeated;
    setMismatch(differs);
    if (!differs) change.mutate({ currentPassword, newPassword });
  };
  return (
    <Panel title="Change your password">
      <form className="account-form" onSubmit={submit} data-testid="change-password-form">
        <label className="field" htmlFor={ids.current}>
          <span className="field-label">Current password</span>
          <input
            id={ids.current}
            type="password"
            autoComplete="current-password"
            value={currentPassword}
            onChange={(e) => setCurrentPassword(e.target.value)}
          />
        </label>
        <label className="field" htmlFor={ids.next}>
          <span className="field-label">New password</span>
          <input
            id={ids.next}
            type="password"
            autoComplete="new-password"
            value={newPassword}
            onChange={(e) => setNewPassword(e.target.value)}
          />
          <span className="muted small">{PASSWORD_RULE}</span>
        </label>
        <label className="field" htmlFor={ids.repeat}>
          <span className="field-label">New password again</span>
          <input
            id={ids.repeat}
            type="password"
            autoComplete="new-password"
            value={repeated}
            onChange={(e) => setRepeated(e.target.value)}
          />
        </label>
        <div>
          <button type="submit" className="button button-primary" disabled={change.isPending}>
            {change.isPending && <span className="spinner" aria-hidden="true" />}
            Change password
          </button>
        </div>
        {mismatch && (
          <p className="form-error" role="alert">
            The new password and its repetition differ
          </p>
        )}
        {change.error && (
          <p className="form-error" role="alert" data-testid="change-password-error">
            {change.error.message}
          </p>
        )}
        {change.data && (
          <p className="form-ok" role="status">
            Password changed.{' '}
            {change.data.sessionsEnded > 0
              ? `${change.data.sessionsEnded} other session${change.data.sessionsEnded === 1 ? '' : 's'} ended.`
              : 'This is your only session.'}
          </p>
        )}
      </form>
    </Panel>
  );
}

function SessionsPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const sessions = useQuery(trpc.users.sessions.queryOptions());
  const endOthers = useMutation(
    trpc.users.endOtherSessions.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries(trpc.users.sessions.pathFilter()),
    }),
  );
  const others = sessions.data?.filter((s) => !s.current).length ?? 0;
  return (
    <Panel
      title="Your sessions"
      actions={
        <button
          type="button"
          className="button button-small"
          disabled={others === 0 || endOthers.isPending}
          onClick={() => endOthers.mutate()}
        >
          End all other sessions
        </button>
      }
    >
      {endOthers.error && (
        <p className="inline-error" role="alert">
          {endOthers.error.message}
        </p>
      )}
      <QueryView query={sessions} loadingLabel="Loading sessions…">
        {(list) =>
          list.length === 0 ? <EmptyState>No sessions.</EmptyState> : <SessionsTable sessions={list} />
        }
      </QueryView>
    </Panel>
  );
}

function SessionsTable({ sessions }: { sessions: AccountSession[] }) {
  const now = Date.now();
  return (
    <div className="table-wrap">
      <table className="table" data-testid="sessions-table">
        <thead>
          <tr>
            <th>Signed in</th>
            <th>Last used</th>
            <th>Browser</th>
            <th>Address</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {sessions.map((session) => (
            <tr key={session.id} data-current={session.current}>
              <td className="small nowrap" title={session.createdAt}>
                {fmtAgo(session.createdAt, now)} {session.current && <Badge tone="info">this session</Badge>}
              </td>
              <td className="small nowrap">
                {session.lastUsedAt ? fmtAgo(session.lastUsedAt, now) : 'never'}
              </td>
              <td className="small" title={session.userAgent ?? undefined}>
                {describeAgent(session.userAgent)}
              </td>
              <td className="small mono">{session.address ?? 'unknown'}</td>
              <td>
                <EndSession session={session} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function EndSession({ session }: { session: AccountSession }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const end = useMutation(
    trpc.users.endSession.mutationOptions({
      onSuccess: async (result) => {
        if (result.signedOut) {
          window.location.assign('/login');
          return;
        }
        await queryClient.invalidateQueries(trpc.users.sessions.pathFilter());
      },
    }),
  );
  return (
    <>
      <button
        type="button"
        className="button button-small"
        disabled={end.isPending}
        onClick={() => end.mutate({ id: session.id })}
      >
        {session.current ? 'Sign out' : 'End'}
      </button>
      {end.error && (
        <p className="inline-error" role="alert">
          {end.error.message}
        </p>
      )}
    </>
  );
}

/** "Chrome on Linux" rather than the whole user-agent string (which stays in the title). */
function describeAgent(userAgent: string | null): string {
  if (!userAgent) return 'unknown';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : /curl\//.test(userAgent)
            ? 'curl'
            : /node|undici/i.test(userAgent)
              ? 'a script'
              : 'a browser';
  const os = /Windows/.test(userAgent)
    ? ' on Windows'
    : /Mac OS X/.test(userAgent)
      ? ' on macOS'
      : /Android/.test(userAgent)
        ? ' on Android'
        : /Linux/.test(userAgent)
          ? ' on Linux'
          : '';
  return `${browser}${os}`;
}
