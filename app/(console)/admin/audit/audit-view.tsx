'use client';

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type FormEvent, type ReactNode, useId, useState } from 'react';
import { AdminsOnly } from '@/components/admin/admins-only';
import { DASH } from '@/components/format';
import { type RouterOutputs, useTRPC } from '@/components/trpc/client';
import { Badge, EmptyState, ErrorState, Loading, Panel } from '@/components/ui/states';

type AuditEvent = RouterOutputs['audit']['list']['events'][number];

const PAGE_SIZE = 50;

/** The filters as typed in the form; times are the browser's local `datetime-local` values. */
type Draft = {
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  from: string;
  to: string;
};
const EMPTY: Draft = { actor: '', action: '', targetType: '', targetId: '', from: '', to: '' };

/** The filters as the API takes them: blanks left out, times as ISO instants. */
type Filter = Partial<Record<keyof Draft, string>>;

function filterOf(draft: Draft): Filter {
  const filter: Filter = {};
  for (const key of Object.keys(draft) as (keyof Draft)[]) {
    const value = draft[key].trim();
    if (!value) continue;
    if (key === 'from' || key === 'to') {
      const at = new Date(value);
      if (!Number.isNaN(at.getTime())) filter[key] = at.toISOString();
    } else filter[key] = value;
  }
  return filter;
}

const ACTION_HINTS = [
  'allocation.',
  'node.',
  'gpu.',
  'stress.',
  'auth.',
  'apiToken.',
  'enrollmentToken.',
  'cluster.',
];

const OUTCOME_TONE: Record<string, 'ok' | 'warn' | 'bad' | 'muted'> = {
  ok: 'ok',
  applied: 'ok',
  passed: 'ok',
  completed: 'ok',
  refused: 'bad',
  failed: 'bad',
  rolled_back: 'warn',
  aborted: 'warn',
  locked: 'bad',
};

/** Every audited action: who did what to what, when, why, and how it ended. Admins only. */
export function AuditView() {
  return (
    <AdminsOnly
      title="Audit log"
      action="readAuditLog"
      why="Only admins read the audit log: it holds sign-ins, lockouts and credential changes as well as fleet changes."
    >
      <AuditLog />
    </AdminsOnly>
  );
}

function AuditLog() {
  const trpc = useTRPC();
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [filter, setFilter] = useState<Filter>({});
  // The cursors of the pages before this one: "Previous" pops, "Next" pushes.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors.at(-1);
  const page = useQuery(
    trpc.audit.list.queryOptions(
      { ...filter, limit: PAGE_SIZE, cursor },
      { placeholderData: keepPreviousData, refetchInterval: cursor ? false : 15_000 },
    ),
  );

  const apply = (next: Draft) => {
    setDraft(next);
    setFilter(filterOf(next));
    setCursors([undefined]);
  };
  const exportQuery = new URLSearchParams(filter as Record<string, string>).toString();

  return (
    <div className="page">
      <div className="page-header">
        <h1>Audit log</h1>
        <span className="muted">Every audited action, newest first · append-only</span>
      </div>
      <AuditFilters draft={draft} onChange={setDraft} onApply={apply} />
      <Panel
        title="Events"
        testId="audit-events"
        actions={
          <span className="panel-actions-row">
            <a className="button button-small" href={`/api/audit/export?format=csv&${exportQuery}`} download>
              Export CSV
            </a>
            <a className="button button-small" href={`/api/audit/export?format=json&${exportQuery}`} download>
              Export JSON
            </a>
          </span>
        }
      >
        {page.error && !page.data && <ErrorState error={page.error} />}
        {page.error && page.data && <p className="inline-error">Could not load: {page.error.message}</p>}
        {!page.data && !page.error && <Loading label="Loading the audit log…" />}
        {page.data &&
          (page.data.events.length === 0 ? (
            <EmptyState>No audit events match these filters.</EmptyState>
          ) : (
            <AuditTable events={page.data.events} onFilter={(patch) => apply({ ...draft, ...patch })} />
          ))}
        <div className="filter-bar" style={{ marginTop: 12, marginBottom: 0 }}>
          <button
            type="button"
            className="button button-small"
            disabled={cursors.length <= 1 || page.isFetching}
            onClick={() => setCursors((c) => c.slice(0, -1))}
          >
            Previous
          </button>
          <button
            type="button"
            className="button button-small"
            disabled={!page.data?.nextCursor || page.isFetching}
            onClick={() => {
              const next = page.data?.nextCursor;
              if (next) setCursors((c) => [...c, next]);
            }}
          >
            Next
          </button>
          <span className="muted small">
            Page {cursors.length} · {PAGE_SIZE} a page
            {page.isFetching && <span className="spinner spinner-small" aria-hidden="true" />}
          </span>
        </div>
      </Panel>
    </div>
  );
}

function AuditFilters({
  draft,
  onChange,
  onApply,
}: {
  draft: Draft;
  onChange: (draft: Draft) => void;
  onApply: (draft: Draft) => void;
}) {
  const id = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(draft);
  };
  const field = (key: keyof Draft, label: string, props: Record<string, unknown> = {}) => (
    <div className="filter">
      <label className="filter-label" htmlFor={`${id}-${key}`}>
        {label}
      </label>
      <input
        id={`${id}-${key}`}
        name={key}
        value={draft[key]}
        onChange={(e) => onChange({ ...draft, [key]: e.target.value })}
        autoComplete="off"
        {...props}
      />
    </div>
  );
  return (
    <form className="filter-bar" onSubmit={submit} data-testid="audit-filters">
      {field('actor', 'Actor', { placeholder: 'username, token or host' })}
      {field('action', 'Action (prefix)', { placeholder: 'e.g. allocation.', list: `${id}-actions` })}
      <datalist id={`${id}-actions`}>
        {ACTION_HINTS.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      {field('targetType', 'Target type', { placeholder: 'node, gpu, deployment…' })}
      {field('targetId', 'Target id')}
      {field('from', 'From', { type: 'datetime-local' })}
      {field('to', 'To', { type: 'datetime-local' })}
      <div className="filter">
        <button type="submit" className="button button-primary button-small">
          Apply
        </button>
      </div>
      <div className="filter">
        <button type="button" className="button button-ghost button-small" onClick={() => onApply(EMPTY)}>
          Clear
        </button>
      </div>
    </form>
  );
}

function fmtWhen(iso: string): string {
  const d = new Date(iso);
  return `${d.toLocaleDateString('en-CA')} ${d.toLocaleTimeString('en-GB')}`;
}

function AuditTable({
  events,
  onFilter,
}: {
  events: AuditEvent[];
  onFilter: (patch: Partial<Draft>) => void;
}) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid="audit-table">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>Action</th>
            <th>Target</th>
            <th>Reason</th>
            <th>Outcome</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={event.id} data-testid="audit-row" data-action={event.action}>
              <td className="small nowrap" title={event.at}>
                {fmtWhen(event.at)}
              </td>
              <td className="small">
                <FilterLink
                  title="Show only this actor"
                  onClick={() => onFilter({ actor: event.actorId ?? event.actorName })}
                >
                  {event.actorName}
                </FilterLink>{' '}
                <span className="muted">{event.actorType}</span>
              </td>
              <td className="mono small">
                <FilterLink title="Show only this action" onClick={() => onFilter({ action: event.action })}>
                  {event.action}
                </FilterLink>
              </td>
              <td className="small">
                <span className="muted">{event.targetType}</span>{' '}
                {event.targetId ? (
                  <FilterLink
                    title={`Show only events of ${event.targetType} ${event.targetId}`}
                    onClick={() => onFilter({ targetType: event.targetType, targetId: event.targetId ?? '' })}
                  >
                    {event.targetName ?? event.targetId}
                  </FilterLink>
                ) : (
                  (event.targetName ?? DASH)
                )}
              </td>
              <td className="small">{event.reason ?? <span className="muted">{DASH}</span>}</td>
              <td>
                <Badge tone={OUTCOME_TONE[event.outcome] ?? 'muted'}>{event.outcome}</Badge>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A value in the table that narrows the log to itself when clicked. */
function FilterLink({
  title,
  onClick,
  children,
}: {
  title: string;
  onClick: () => void;
  children: ReactNode;
}) {
  return (
    <button type="button" className="link-strong" title={title} onClick={onClick} style={LINK_STYLE}>
      {children}
    </button>
  );
}

const LINK_STYLE = { background: 'none', border: 0, padding: 0, font: 'inherit', cursor: 'pointer' } as const;
