import type { ReactNode } from 'react';
import { utilColor } from '@/components/fleet/util-color';

/** Loading, error and empty states shared by every page. */

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorState({
  error,
  title = 'Could not load this view',
}: {
  error: unknown;
  title?: string;
}) {
  const message =
    typeof error === 'string'
      ? error
      : error && typeof error === 'object' && 'message' in error && typeof error.message === 'string'
        ? error.message
        : 'Unknown error';
  return (
    <div className="state state-error" role="alert">
      <strong>{title}</strong>
      <span>{message}</span>
    </div>
  );
}

export function EmptyState({ children = 'Waiting for telemetry…' }: { children?: ReactNode }) {
  return (
    <div className="state state-empty" role="status">
      {children}
    </div>
  );
}

/** Renders `children(data)` once a query has data; its loading or error state before that. */
export function QueryView<T>({
  query,
  loadingLabel,
  children,
}: {
  query: { data: T | undefined; error: unknown; isPending: boolean };
  loadingLabel?: string;
  children: (data: T) => ReactNode;
}) {
  if (query.data !== undefined) return <>{children(query.data)}</>;
  if (query.error) return <ErrorState error={query.error} />;
  return <Loading label={loadingLabel} />;
}

export function Panel({
  title,
  actions,
  children,
  className,
  testId,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  testId?: string;
}) {
  return (
    <section className={className ? `panel ${className}` : 'panel'} data-testid={testId}>
      {(title || actions) && (
        <header className="panel-header">
          {title && <h2 className="panel-title">{title}</h2>}
          {actions && <div className="panel-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

export type Tone = 'ok' | 'warn' | 'bad' | 'muted' | 'info';

export function Badge({ tone, children }: { tone: Tone; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export const NODE_STATUS_TONE: Record<string, Tone> = { online: 'ok', degraded: 'warn', offline: 'bad' };
export const GPU_HEALTH_TONE: Record<string, Tone> = { ok: 'ok', degraded: 'warn', failed: 'bad' };

/** A small bar for a 0–100 value, colored like the heatmap; `vertical` for a row of per-GPU bars. */
export function UtilBar({
  value,
  title,
  vertical = false,
}: {
  value: number | null | undefined;
  title?: string;
  vertical?: boolean;
}) {
  const pct = value === null || value === undefined ? null : Math.max(0, Math.min(100, value));
  const classes = ['util-bar', vertical ? 'util-bar-vertical' : '', pct === null ? 'util-bar-empty' : '']
    .filter(Boolean)
    .join(' ');
  return (
    <span
      className={classes}
      title={title}
      role="img"
      aria-label={title ?? (pct === null ? 'no data' : `${pct} %`)}
    >
      {pct !== null && (
        <span
          className="util-bar-fill"
          style={
            vertical
              ? { height: `${Math.max(pct, 4)}%`, background: utilColor(pct) }
              : { width: `${pct}%`, background: utilColor(pct) }
          }
        />
      )}
    </span>
  );
}
