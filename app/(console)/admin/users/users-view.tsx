'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { AdminsOnly } from '@/components/admin/admins-only';
import { OneTimeLink } from '@/components/auth/one-time-link';
import { ROLE_SUMMARY } from '@/components/auth/permissions';
import { usePermissions } from '@/components/auth/use-permissions';
import { DASH, fmtAgo } from '@/components/format';
import { type RouterOutputs, useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState, Panel, QueryView } from '@/components/ui/states';
import { PASSWORD_RULE } from '@/lib/password-rule';

type User = RouterOutputs['users']['list'][number];
type Role = User['role'];
type IssuedLink = { username: string; path: string; expiresAt: string };

const ROLES: { role: Role; hint: string }[] = (['viewer', 'operator', 'admin'] as const).map((role) => ({
  role,
  hint: ROLE_SUMMARY[role],
}));

/** People and their access: create, set roles, disable, reset passwords. Admins only. */
export function UsersView() {
  const { name } = usePermissions();
  return (
    <AdminsOnly title="Users" action="manageUsers" why="Only admins manage users.">
      <UsersAdmin myName={name ?? ''} />
    </AdminsOnly>
  );
}

function UsersAdmin({ myName }: { myName: string }) {
  const trpc = useTRPC();
  const users = useQuery(trpc.users.list.queryOptions());
  const [link, setLink] = useState<IssuedLink | null>(null);
  return (
    <div className="page">
      <div className="page-header">
        <h1>Users</h1>
        <span className="muted">Passwords: {PASSWORD_RULE}</span>
      </div>
      {link ? <OneTimeLink {...link} onDone={() => setLink(null)} /> : <CreateUserForm onLink={setLink} />}
      <Panel title="Users">
        <QueryView query={users} loadingLabel="Loading users…">
          {(list) =>
            list.length === 0 ? (
              <EmptyState>No users.</EmptyState>
            ) : (
              <UsersTable users={list} myName={myName} onLink={setLink} />
            )
          }
        </QueryView>
        {users.data && users.error && (
          <p className="inline-error">Could not refresh: {users.error.message}</p>
        )}
      </Panel>
    </div>
  );
}

function CreateUserForm({ onLink }: { onLink: (link: IssuedLink) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [mode, setMode] = useState<'link' | 'password'>('link');
  const [password, setPassword] = useState('');
  const [createdName, setCreatedName] = useState<string | null>(null);
  const ids = { username: useId(), role: useId(), password: useId(), error: useId() };
  const create = useMutation(
    trpc.users.create.mutationOptions({
      onSuccess: async (result) => {
        await queryClient.invalidateQueries(trpc.users.list.pathFilter());
        setUsername('');
        setPassword('');
        setCreatedName(result.user.username);
        if (result.passwordLink) onLink({ username: result.user.username, ...result.passwordLink });
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setCreatedName(null);
    // The server checks the name and the password rule and says what is wrong.
    create.mutate({ username, role, password: mode === 'password' ? password : undefined });
  };
  return (
    <Panel title="Create a user">
      <form className="user-form" onSubmit={submit} data-testid="create-user-form">
        <label className="field" htmlFor={ids.username}>
          <span className="field-label">Username</span>
          <input
            id={ids.username}
            name="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            maxLength={64}
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            aria-describedby={create.error ? ids.error : undefined}
          />
        </label>
        <label className="field" htmlFor={ids.role}>
          <span className="field-label">Role</span>
          <select id={ids.role} name="role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r.role} value={r.role}>
                {r.role} — {r.hint}
              </option>
            ))}
          </select>
        </label>
        <fieldset className="user-password-mode user-form-wide">
          <legend className="field-label">Password</legend>
          <label>
            <input type="radio" name="mode" checked={mode === 'link'} onChange={() => setMode('link')} />
            One-time link: they choose it (valid 24 hours)
          </label>
          <label>
            <input
              type="radio"
              name="mode"
              checked={mode === 'password'}
              onChange={() => setMode('password')}
            />
            Set it now
          </label>
        </fieldset>
        {mode === 'password' && (
          <label className="field" htmlFor={ids.password}>
            <span className="field-label">Initial password</span>
            <input
              id={ids.password}
              name="password"
              type="password"
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            <span className="muted small">{PASSWORD_RULE}</span>
          </label>
        )}
        <div>
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            {create.isPending && <span className="spinner" aria-hidden="true" />}
            Create user
          </button>
        </div>
        {create.error && (
          <p className="form-error" role="alert" id={ids.error} data-testid="create-user-error">
            {create.error.message}
          </p>
        )}
        {createdName && !create.error && (
          <p className="form-ok" role="status">
            Created {createdName}.
          </p>
        )}
      </form>
    </Panel>
  );
}

function fmtDate(iso: string | null): string {
  return iso ? new Date(iso).toLocaleDateString('en-CA') : DASH;
}

function UsersTable({
  users,
  myName,
  onLink,
}: {
  users: User[];
  myName: string;
  onLink: (link: IssuedLink) => void;
}) {
  const now = Date.now();
  return (
    <div className="table-wrap">
      <table className="table users-table" data-testid="users-table">
        <thead>
          <tr>
            <th>Username</th>
            <th>Role</th>
            <th>State</th>
            <th>Created</th>
            <th>Last sign-in</th>
            <th>Sessions</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {users.map((user) => (
            <UserRow key={user.id} user={user} isMe={user.username === myName} now={now} onLink={onLink} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function UserRow({
  user,
  isMe,
  now,
  onLink,
}: {
  user: User;
  isMe: boolean;
  now: number;
  onLink: (link: IssuedLink) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries(trpc.users.list.pathFilter());
  const setRole = useMutation(trpc.users.setRole.mutationOptions({ onSuccess: refresh }));
  const disable = useMutation(trpc.users.disable.mutationOptions({ onSuccess: refresh }));
  const enable = useMutation(trpc.users.enable.mutationOptions({ onSuccess: refresh }));
  const [resetting, setResetting] = useState(false);
  const error = setRole.error ?? disable.error ?? enable.error;
  const state = user.disabled
    ? 'disabled'
    : user.singleSignOn
      ? 'single sign-on'
      : user.hasPassword
        ? 'active'
        : 'awaiting password';
  const clearErrors = () => {
    setRole.reset();
    disable.reset();
    enable.reset();
  };
  return (
    <tr data-testid={`user-row-${user.username}`} data-state={state}>
      <td className="strong">
        {user.username}
        {isMe && <span className="muted small"> (you)</span>}
      </td>
      <td>
        <select
          aria-label={`Role of ${user.username}`}
          value={user.role}
          disabled={setRole.isPending}
          onChange={(e) => {
            clearErrors();
            setRole.mutate({ id: user.id, role: e.target.value as Role });
          }}
        >
          {ROLES.map((r) => (
            <option key={r.role} value={r.role}>
              {r.role}
            </option>
          ))}
        </select>
      </td>
      <td>
        <Badge tone={user.disabled ? 'bad' : user.hasPassword || user.singleSignOn ? 'ok' : 'warn'}>
          {state}
        </Badge>
      </td>
      <td className="small nowrap" title={user.createdAt}>
        {fmtDate(user.createdAt)}
      </td>
      <td className="small nowrap" title={user.lastLoginAt ?? 'never'}>
        {user.lastLoginAt ? fmtAgo(user.lastLoginAt, now) : 'never'}
      </td>
      <td className="num">{user.activeSessions}</td>
      <td>
        <div className="user-actions">
          {user.disabled ? (
            <button
              type="button"
              className="button button-small"
              disabled={enable.isPending}
              onClick={() => {
                clearErrors();
                enable.mutate({ id: user.id });
              }}
            >
              Enable
            </button>
          ) : (
            !isMe && (
              <button
                type="button"
                className="button button-small"
                title="Signs them out everywhere and stops their API tokens"
                disabled={disable.isPending}
                onClick={() => {
                  clearErrors();
                  disable.mutate({ id: user.id });
                }}
              >
                Disable
              </button>
            )
          )}
          {!isMe && !resetting && !user.singleSignOn && (
            <button type="button" className="button button-small" onClick={() => setResetting(true)}>
              Reset password
            </button>
          )}
          {user.singleSignOn && (
            <span className="muted small" title="Their password and groups are kept by the identity provider">
              password at the provider
            </span>
          )}
        </div>
        {resetting && (
          <ResetPassword
            user={user}
            onDone={(link) => {
              setResetting(false);
              if (link) onLink({ username: user.username, ...link });
            }}
          />
        )}
        {error && (
          <p className="inline-error" role="alert">
            {error.message}
          </p>
        )}
      </td>
    </tr>
  );
}

function ResetPassword({
  user,
  onDone,
}: {
  user: User;
  onDone: (link: { path: string; expiresAt: string } | null) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [password, setPassword] = useState('');
  const reset = useMutation(
    trpc.users.resetPassword.mutationOptions({
      onSuccess: async (result) => {
        await queryClient.invalidateQueries(trpc.users.list.pathFilter());
        onDone(result.passwordLink);
      },
    }),
  );
  return (
    <fieldset className="user-reset" aria-label={`Reset the password of ${user.username}`}>
      <span className="small">Their sessions end.</span>
      <input
        type="password"
        aria-label={`New password for ${user.username}`}
        placeholder="new password"
        autoComplete="new-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      <button
        type="button"
        className="button button-small"
        disabled={reset.isPending}
        onClick={() => reset.mutate({ id: user.id, password })}
      >
        Set password
      </button>
      <button
        type="button"
        className="button button-small"
        disabled={reset.isPending}
        title="Clears the old password; they choose a new one with the link"
        onClick={() => reset.mutate({ id: user.id })}
      >
        Issue one-time link
      </button>
      <button type="button" className="button button-ghost button-small" onClick={() => onDone(null)}>
        Cancel
      </button>
      {reset.error && (
        <p className="inline-error" role="alert">
          {reset.error.message}
        </p>
      )}
    </fieldset>
  );
}
