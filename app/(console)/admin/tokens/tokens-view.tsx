'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { AdminsOnly } from '@/components/admin/admins-only';
import { DASH, fmtAgo } from '@/components/format';
import { type RouterOutputs, useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState, Panel, QueryView } from '@/components/ui/states';

type ApiToken = RouterOutputs['admin']['listApiTokens'][number];
type Scope = ApiToken['scopes'][number];

const SCOPES: { scope: Scope; label: string; hint: string }[] = [
  { scope: 'read', label: 'read', hint: 'read the fleet, allocations and stress runs' },
  { scope: 'allocate', label: 'allocate', hint: 'move GPUs, cordon, apply plans' },
  { scope: 'stress', label: 'stress', hint: 'start and abort stress runs' },
];

const EXPIRY_OPTIONS = [
  { days: 0, label: 'Never' },
  { days: 7, label: '7 days' },
  { days: 30, label: '30 days' },
  { days: 90, label: '90 days' },
  { days: 365, label: '1 year' },
];

/** API tokens for scripts: create one (its secret is shown once), see when each was used, revoke. */
export function TokensView() {
  return (
    <AdminsOnly title="API tokens" action="manageApiTokens" why="Only admins create and revoke API tokens.">
      <TokensAdmin />
    </AdminsOnly>
  );
}

function TokensAdmin() {
  const trpc = useTRPC();
  const tokens = useQuery(trpc.admin.listApiTokens.queryOptions());
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  return (
    <div className="page">
      <div className="page-header">
        <h1>API tokens</h1>
        <span className="muted">
          For scripts and the <code>switchyard</code> command line · <a href="/api-docs">API reference</a>
        </span>
      </div>
      {created ? (
        <NewSecret name={created.name} token={created.token} onDone={() => setCreated(null)} />
      ) : (
        <CreateTokenForm onCreated={setCreated} />
      )}
      <Panel title="Tokens">
        <QueryView query={tokens} loadingLabel="Loading tokens…">
          {(list) =>
            list.length === 0 ? <EmptyState>No API tokens yet.</EmptyState> : <TokensTable tokens={list} />
          }
        </QueryView>
        {tokens.data && tokens.error && (
          <p className="inline-error">Could not refresh: {tokens.error.message}</p>
        )}
      </Panel>
    </div>
  );
}

function CreateTokenForm({ onCreated }: { onCreated: (created: { name: string; token: string }) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['read']);
  const [expiresInDays, setExpiresInDays] = useState(90);
  const ids = { name: useId(), expiry: useId(), error: useId() };
  const create = useMutation(
    trpc.admin.createApiToken.mutationOptions({
      onSuccess: async (result, input) => {
        await queryClient.invalidateQueries(trpc.admin.listApiTokens.pathFilter());
        onCreated({ name: input.name, token: result.token });
      },
    }),
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    // Blank names and empty scope lists go to the server too: it says what it needs.
    create.mutate({ name, scopes, expiresInDays: expiresInDays > 0 ? expiresInDays : undefined });
  };
  const toggle = (scope: Scope) =>
    setScopes((current) =>
      current.includes(scope) ? current.filter((s) => s !== scope) : [...current, scope],
    );

  return (
    <Panel title="Create a token">
      <form className="token-form" onSubmit={submit} data-testid="create-token-form">
        <label className="field" htmlFor={ids.name}>
          <span className="field-label">Name</span>
          <input
            id={ids.name}
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="e.g. ci-rebalance"
            maxLength={64}
            autoComplete="off"
            aria-invalid={create.error ? true : undefined}
            aria-describedby={create.error ? ids.error : undefined}
          />
        </label>
        <fieldset className="token-scopes">
          <legend className="field-label">Scopes</legend>
          {SCOPES.map(({ scope, label, hint }) => (
            <label key={scope} className="token-scope">
              <input
                type="checkbox"
                name="scopes"
                value={scope}
                checked={scopes.includes(scope)}
                onChange={() => toggle(scope)}
              />
              <span className="mono">{label}</span>
              <span className="muted small">{hint}</span>
            </label>
          ))}
        </fieldset>
        <label className="field token-expiry" htmlFor={ids.expiry}>
          <span className="field-label">Expires</span>
          <select
            id={ids.expiry}
            name="expiresInDays"
            value={expiresInDays}
            onChange={(e) => setExpiresInDays(Number(e.target.value))}
          >
            {EXPIRY_OPTIONS.map((o) => (
              <option key={o.days} value={o.days}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        <div>
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            {create.isPending && <span className="spinner" aria-hidden="true" />}
            Create token
          </button>
        </div>
        {create.error && (
          <p className="form-error" role="alert" id={ids.error} data-testid="create-token-error">
            {create.error.message}
          </p>
        )}
      </form>
    </Panel>
  );
}

function NewSecret({ name, token, onDone }: { name: string; token: string; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = () => {
    if (!navigator.clipboard) {
      setCopied('failed');
      return;
    }
    navigator.clipboard.writeText(token).then(
      () => setCopied('yes'),
      () => setCopied('failed'),
    );
  };
  return (
    <Panel title={`Token “${name}” created`} className="token-secret" testId="new-token">
      <p>Copy it now: it is shown this once. Switchyard keeps only a hash of it.</p>
      <div className="token-secret-row">
        <code className="token-secret-value mono" data-testid="new-token-value">
          {token}
        </code>
        <button type="button" className="button" onClick={copy}>
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button button-ghost" onClick={onDone}>
          Done
        </button>
      </div>
      {copied === 'failed' && (
        <p className="inline-error">This browser did not let the page copy; select the token and copy it.</p>
      )}
      <p className="muted small">
        Use it as <code>Authorization: Bearer …</code>, or <code>export SWITCHYARD_TOKEN=…</code> for the{' '}
        <code>switchyard</code> command line.
      </p>
    </Panel>
  );
}

function tokenState(token: ApiToken, now: number): { label: string; tone: 'ok' | 'bad' | 'muted' } {
  if (token.revokedAt) return { label: 'revoked', tone: 'bad' };
  if (token.expiresAt && Date.parse(token.expiresAt) <= now) return { label: 'expired', tone: 'muted' };
  return { label: 'active', tone: 'ok' };
}

function fmtDate(iso: string | null): string {
  return iso ? new Date(iso).toLocaleDateString('en-CA') : DASH;
}

function TokensTable({ tokens }: { tokens: ApiToken[] }) {
  const now = Date.now();
  return (
    <div className="table-wrap">
      <table className="table" data-testid="tokens-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Prefix</th>
            <th>Scopes</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Expires</th>
            <th>State</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {tokens.map((token) => {
            const state = tokenState(token, now);
            return (
              <tr key={token.id} data-testid={`token-row-${token.name}`} data-state={state.label}>
                <td className="strong">{token.name}</td>
                <td className="mono small">{token.prefix}…</td>
                <td>
                  <span className="token-scope-list">
                    {token.scopes.map((s) => (
                      <Badge key={s} tone="info">
                        {s}
                      </Badge>
                    ))}
                  </span>
                </td>
                <td className="small nowrap" title={token.createdAt}>
                  {fmtDate(token.createdAt)} <span className="muted">by {token.createdBy}</span>
                </td>
                <td className="small nowrap" title={token.lastUsedAt ?? 'never'}>
                  {token.lastUsedAt ? fmtAgo(token.lastUsedAt, now) : 'never'}
                </td>
                <td className="small nowrap">{token.expiresAt ? fmtDate(token.expiresAt) : 'never'}</td>
                <td>
                  <Badge tone={state.tone}>{state.label}</Badge>
                  {token.revokedAt && <span className="muted small"> {fmtDate(token.revokedAt)}</span>}
                </td>
                <td>{!token.revokedAt && <RevokeControl token={token} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function RevokeControl({ token }: { token: ApiToken }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const revoke = useMutation(
    trpc.admin.revokeApiToken.mutationOptions({
      onSuccess: async () => {
        setConfirming(false);
        await queryClient.invalidateQueries(trpc.admin.listApiTokens.pathFilter());
      },
    }),
  );
  if (!confirming) {
    return (
      <button
        type="button"
        className="button button-small"
        onClick={() => {
          revoke.reset();
          setConfirming(true);
        }}
      >
        Revoke
      </button>
    );
  }
  return (
    <fieldset className="token-revoke" aria-label={`Revoke ${token.name}`}>
      <span className="small">Scripts using it stop working at once.</span>
      <button
        type="button"
        className="button button-small token-revoke-confirm"
        disabled={revoke.isPending}
        onClick={() => revoke.mutate({ id: token.id })}
      >
        {revoke.isPending && <span className="spinner spinner-small" aria-hidden="true" />}
        Revoke “{token.name}”
      </button>
      <button type="button" className="button button-ghost button-small" onClick={() => setConfirming(false)}>
        Cancel
      </button>
      {revoke.error && (
        <p className="inline-error" role="alert">
          {revoke.error.message}
        </p>
      )}
    </fieldset>
  );
}
