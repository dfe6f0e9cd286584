'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { type FormEvent, useId, useState } from 'react';
import { AdminsOnly } from '@/components/admin/admins-only';
import { AgentCommand } from '@/components/admin/agent-command';
import { DASH } from '@/components/format';
import { type RouterOutputs, useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState, Panel, QueryView } from '@/components/ui/states';

type Cluster = RouterOutputs['clusters']['list'][number];
type EnrollmentToken = RouterOutputs['clusters']['enrollmentTokens'][number];

const EXPIRY_HOURS = [
  { hours: 1, label: '1 hour' },
  { hours: 24, label: '1 day' },
  { hours: 24 * 7, label: '7 days' },
  { hours: 24 * 30, label: '30 days' },
];

const STATE_TONE: Record<EnrollmentToken['state'], 'ok' | 'muted' | 'bad'> = {
  active: 'ok',
  'used up': 'muted',
  expired: 'muted',
  revoked: 'bad',
};

/** Clusters, and the enrollment tokens that let agents on new machines join them. Admins only. */
export function EnrollmentView() {
  return (
    <AdminsOnly
      title="Clusters and enrollment"
      action="manageEnrollment"
      why="Only admins create clusters and enrollment tokens."
    >
      <Enrollment />
    </AdminsOnly>
  );
}

function Enrollment() {
  const trpc = useTRPC();
  const clusters = useQuery(trpc.clusters.list.queryOptions());
  const tokens = useQuery(
    trpc.clusters.enrollmentTokens.queryOptions(undefined, { refetchInterval: 10_000 }),
  );
  const [created, setCreated] = useState<{ clusterName: string; token: string } | null>(null);
  return (
    <div className="page">
      <div className="page-header">
        <h1>Clusters and enrollment</h1>
        <span className="muted">
          Connect a GPU machine: create a token, run the command it shows on the machine ·{' '}
          <Link href="/admin/audit">audit log</Link>
        </span>
      </div>
      {created ? (
        <AgentCommand
          title={`Enrollment token for ${created.clusterName} created`}
          token={created.token}
          onDone={() => setCreated(null)}
        />
      ) : (
        <QueryView query={clusters} loadingLabel="Loading clusters…">
          {(list) => <CreateTokenForm clusters={list} onCreated={setCreated} />}
        </QueryView>
      )}
      <Panel title="Enrollment tokens">
        <QueryView query={tokens} loadingLabel="Loading tokens…">
          {(list) =>
            list.length === 0 ? (
              <EmptyState>No enrollment tokens yet.</EmptyState>
            ) : (
              <TokensTable tokens={list} />
            )
          }
        </QueryView>
        {tokens.data && tokens.error && (
          <p className="inline-error">Could not refresh: {tokens.error.message}</p>
        )}
      </Panel>
      <Panel title="Clusters">
        <QueryView query={clusters} loadingLabel="Loading clusters…">
          {(list) => <ClustersTable clusters={list} />}
        </QueryView>
        <CreateClusterForm />
      </Panel>
    </div>
  );
}

function CreateTokenForm({
  clusters,
  onCreated,
}: {
  clusters: Cluster[];
  onCreated: (created: { clusterName: string; token: string }) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [cluster, setCluster] = useState(clusters[0]?.name ?? '');
  const [description, setDescription] = useState('');
  const [maxUses, setMaxUses] = useState(1);
  const [expiresInHours, setExpiresInHours] = useState(24);
  const ids = { cluster: useId(), description: useId(), uses: useId(), expiry: useId(), error: useId() };
  const create = useMutation(
    trpc.clusters.createEnrollmentToken.mutationOptions({
      onSuccess: async (result) => {
        await queryClient.invalidateQueries(trpc.clusters.enrollmentTokens.pathFilter());
        onCreated({ clusterName: result.clusterName, token: result.token });
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({
      cluster,
      description: description.trim() || undefined,
      maxUses,
      expiresInHours,
    });
  };
  return (
    <Panel title="Create an enrollment token">
      <form className="filter-bar" onSubmit={submit} data-testid="create-enrollment-token-form">
        <div className="filter">
          <label className="filter-label" htmlFor={ids.cluster}>
            Cluster
          </label>
          <select
            id={ids.cluster}
            name="cluster"
            value={cluster}
            onChange={(e) => setCluster(e.target.value)}
          >
            {clusters.map((c) => (
              <option key={c.id} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        <div className="filter filter-search">
          <label className="filter-label" htmlFor={ids.description}>
            Description
          </label>
          <input
            id={ids.description}
            name="description"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
            placeholder="e.g. rack 7, new H100s"
            maxLength={200}
            autoComplete="off"
          />
        </div>
        <div className="filter">
          <label className="filter-label" htmlFor={ids.uses}>
            Machines (uses)
          </label>
          <input
            id={ids.uses}
            name="maxUses"
            type="number"
            min={1}
            max={10_000}
            value={maxUses}
            onChange={(e) => setMaxUses(Number(e.target.value))}
          />
        </div>
        <div className="filter">
          <label className="filter-label" htmlFor={ids.expiry}>
            Expires in
          </label>
          <select
            id={ids.expiry}
            name="expiresInHours"
            value={expiresInHours}
            onChange={(e) => setExpiresInHours(Number(e.target.value))}
          >
            {EXPIRY_HOURS.map((o) => (
              <option key={o.hours} value={o.hours}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
        <div className="filter">
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            {create.isPending && <span className="spinner" aria-hidden="true" />}
            Create token
          </button>
        </div>
      </form>
      {create.error && (
        <p className="form-error" role="alert" id={ids.error}>
          {create.error.message}
        </p>
      )}
    </Panel>
  );
}

function fmtDateTime(iso: string | null): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  return `${d.toLocaleDateString('en-CA')} ${d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}`;
}

function TokensTable({ tokens }: { tokens: EnrollmentToken[] }) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid="enrollment-tokens-table">
        <thead>
          <tr>
            <th>Token</th>
            <th>Cluster</th>
            <th className="num">Uses</th>
            <th>Created</th>
            <th>Expires</th>
            <th>State</th>
            <th>Enrolled nodes</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {tokens.map((token) => (
            <tr key={token.id} data-testid="enrollment-token-row" data-state={token.state}>
              <td>
                <span className="strong">
                  {token.replacesNode ? `Replaces ${token.replacesNode.hostname}` : token.description}
                </span>
                <div className="mono small muted">{token.id.slice(0, 8)}</div>
              </td>
              <td>{token.clusterName}</td>
              <td className="num">
                {token.uses}/{token.maxUses}
              </td>
              <td className="small nowrap">{fmtDateTime(token.createdAt)}</td>
              <td className="small nowrap">{fmtDateTime(token.expiresAt)}</td>
              <td>
                <Badge tone={STATE_TONE[token.state]}>{token.state}</Badge>
              </td>
              <td className="small">
                {token.enrolled.length === 0
                  ? DASH
                  : token.enrolled.map((node, i) => (
                      <span key={`${node.nodeId}-${node.at}`}>
                        {i > 0 && ', '}
                        {node.present ? (
                          <Link href={`/nodes/${node.nodeId}`}>{node.hostname}</Link>
                        ) : (
                          <span className="muted" title="removed since">
                            {node.hostname}
                          </span>
                        )}
                      </span>
                    ))}
              </td>
              <td>{token.state === 'active' && <RevokeTokenControl token={token} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RevokeTokenControl({ token }: { token: EnrollmentToken }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const revoke = useMutation(
    trpc.clusters.revokeEnrollmentToken.mutationOptions({
      onSuccess: async () => {
        setConfirming(false);
        await queryClient.invalidateQueries(trpc.clusters.enrollmentTokens.pathFilter());
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
    <fieldset className="token-revoke" aria-label={`Revoke ${token.description}`}>
      <span className="small">No machine can enroll with it afterwards.</span>
      <button
        type="button"
        className="button button-small token-revoke-confirm"
        disabled={revoke.isPending}
        onClick={() => revoke.mutate({ id: token.id })}
      >
        {revoke.isPending && <span className="spinner spinner-small" aria-hidden="true" />}
        Revoke
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

function ClustersTable({ clusters }: { clusters: Cluster[] }) {
  if (clusters.length === 0) return <EmptyState>No clusters yet: create one below.</EmptyState>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="clusters-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Region</th>
            <th className="num">Nodes</th>
            <th className="num">Online</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {clusters.map((c) => (
            <tr key={c.id}>
              <td className="strong">{c.name}</td>
              <td>{c.region ?? DASH}</td>
              <td className="num">{c.nodes}</td>
              <td className="num">{c.onlineNodes}</td>
              <td className="small nowrap">{fmtDateTime(c.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CreateClusterForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [region, setRegion] = useState('');
  const ids = { name: useId(), region: useId() };
  const create = useMutation(
    trpc.clusters.create.mutationOptions({
      onSuccess: async () => {
        setName('');
        setRegion('');
        await queryClient.invalidateQueries(trpc.clusters.list.pathFilter());
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ name, region: region.trim() || undefined });
  };
  return (
    <form
      className="filter-bar"
      onSubmit={submit}
      data-testid="create-cluster-form"
      style={{ marginTop: 12 }}
    >
      <div className="filter">
        <label className="filter-label" htmlFor={ids.name}>
          New cluster
        </label>
        <input
          id={ids.name}
          name="name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="e.g. us-west-2"
          maxLength={64}
          autoComplete="off"
        />
      </div>
      <div className="filter">
        <label className="filter-label" htmlFor={ids.region}>
          Region
        </label>
        <input
          id={ids.region}
          name="region"
          value={region}
          onChange={(e) => setRegion(e.target.value)}
          placeholder="optional"
          maxLength={64}
          autoComplete="off"
        />
      </div>
      <div className="filter">
        <button type="submit" className="button" disabled={create.isPending}>
          {create.isPending && <span className="spinner" aria-hidden="true" />}
          Create cluster
        </button>
      </div>
      {create.error && (
        <p className="form-error" role="alert">
          {create.error.message}
        </p>
      )}
    </form>
  );
}
