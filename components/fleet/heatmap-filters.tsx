'use client';

import { useId } from 'react';
import type { GpuView } from '@/components/trpc/client';

/**
 * What the fleet heatmap shows: by cluster, node (hostname search), owner (deployment or
 * job) and state. Filtering is one pass over the GPU list, so it stays cheap at 10,000 GPUs.
 */

/** Below this utilization a GPU counts as idle (as the server counts it). */
export const IDLE_UTIL_PCT = 5;
/** An allocated GPU idle this long stands out as wasted (as the server counts it). */
export const IDLE_ALLOCATED_AFTER_MS = 5 * 60_000;

export const STATE_FILTERS = [
  { value: 'all', label: 'All states' },
  { value: 'allocated', label: 'Allocated' },
  { value: 'free', label: 'Free' },
  { value: 'idle', label: 'Idle (< 5 %)' },
  { value: 'allocated-idle', label: 'Allocated, idle ≥ 5 min' },
  { value: 'unhealthy', label: 'Degraded or failed' },
  { value: 'cordoned', label: 'Cordoned' },
] as const;
export type StateFilter = (typeof STATE_FILTERS)[number]['value'];

export type HeatmapFilters = {
  cluster: string;
  /** '' for any, 'none' for unallocated, or `deployment:<id>` / `job:<id>`. */
  owner: string;
  state: StateFilter;
  search: string;
};

export const NO_FILTERS: HeatmapFilters = { cluster: '', owner: '', state: 'all', search: '' };

export function isFiltered(f: HeatmapFilters): boolean {
  return f.cluster !== '' || f.owner !== '' || f.state !== 'all' || f.search.trim() !== '';
}

/** Allocated and below 5 % for at least 5 minutes, as of the GPU list. */
export function isAllocatedIdle(gpu: GpuView): boolean {
  return gpu.owner !== null && gpu.idleForMs !== null && gpu.idleForMs >= IDLE_ALLOCATED_AFTER_MS;
}

function matchesState(gpu: GpuView, state: StateFilter): boolean {
  switch (state) {
    case 'all':
      return true;
    case 'allocated':
      return gpu.owner !== null;
    case 'free':
      return gpu.owner === null;
    case 'idle':
      return gpu.idleForMs !== null;
    case 'allocated-idle':
      return isAllocatedIdle(gpu);
    case 'unhealthy':
      return gpu.health !== 'ok';
    case 'cordoned':
      return gpu.cordoned;
  }
}

export function filterGpus(gpus: readonly GpuView[], f: HeatmapFilters): readonly GpuView[] {
  if (!isFiltered(f)) return gpus;
  const search = f.search.trim().toLowerCase();
  const owner = f.owner;
  return gpus.filter(
    (g) =>
      (f.cluster === '' || g.clusterName === f.cluster) &&
      (owner === '' ||
        (owner === 'none'
          ? g.owner === null
          : g.owner !== null && owner === `${g.owner.kind}:${g.owner.id}`)) &&
      (search === '' || g.hostname.toLowerCase().includes(search)) &&
      matchesState(g, f.state),
  );
}

export type FilterOptions = {
  clusters: string[];
  deployments: { value: string; name: string }[];
  jobs: { value: string; name: string }[];
};

export function filterOptions(gpus: readonly GpuView[]): FilterOptions {
  const clusters = new Set<string>();
  const owners = new Map<string, { kind: 'deployment' | 'job'; name: string }>();
  for (const g of gpus) {
    clusters.add(g.clusterName);
    if (g.owner) owners.set(`${g.owner.kind}:${g.owner.id}`, { kind: g.owner.kind, name: g.owner.name });
  }
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  const list = (kind: 'deployment' | 'job') =>
    [...owners.entries()]
      .filter(([, o]) => o.kind === kind)
      .map(([value, o]) => ({ value, name: o.name }))
      .sort(byName);
  return { clusters: [...clusters].sort(), deployments: list('deployment'), jobs: list('job') };
}

/** Filters as a query string (`?cluster=…&owner=…&state=…&q=…`), so a filtered view can be shared. */
export function filtersToSearch(f: HeatmapFilters): string {
  const params = new URLSearchParams();
  if (f.cluster) params.set('cluster', f.cluster);
  if (f.owner) params.set('owner', f.owner);
  if (f.state !== 'all') params.set('state', f.state);
  if (f.search.trim()) params.set('q', f.search.trim());
  const s = params.toString();
  return s ? `?${s}` : '';
}

export function filtersFromSearch(search: string): HeatmapFilters {
  const params = new URLSearchParams(search);
  const state = params.get('state');
  return {
    cluster: params.get('cluster') ?? '',
    owner: params.get('owner') ?? '',
    state: STATE_FILTERS.some((s) => s.value === state) ? (state as StateFilter) : 'all',
    search: params.get('q') ?? '',
  };
}

export function HeatmapFilterBar({
  filters,
  options,
  onChange,
  shown,
  total,
}: {
  filters: HeatmapFilters;
  options: FilterOptions;
  onChange: (next: HeatmapFilters) => void;
  shown: number;
  total: number;
}) {
  const set = <K extends keyof HeatmapFilters>(key: K, value: HeatmapFilters[K]) =>
    onChange({ ...filters, [key]: value });
  const id = useId();
  return (
    <div className="filter-bar" data-testid="heatmap-filters">
      <div className="filter">
        <label className="filter-label" htmlFor={`${id}-cluster`}>
          Cluster
        </label>
        <select id={`${id}-cluster`} value={filters.cluster} onChange={(e) => set('cluster', e.target.value)}>
          <option value="">All clusters</option>
          {options.clusters.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </div>
      <div className="filter">
        <label className="filter-label" htmlFor={`${id}-owner`}>
          Deployment
        </label>
        <select id={`${id}-owner`} value={filters.owner} onChange={(e) => set('owner', e.target.value)}>
          <option value="">Any owner</option>
          <option value="none">Unallocated</option>
          {options.deployments.length > 0 && (
            <optgroup label="Deployments">
              {options.deployments.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.name}
                </option>
              ))}
            </optgroup>
          )}
          {options.jobs.length > 0 && (
            <optgroup label="Jobs">
              {options.jobs.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.name}
                </option>
              ))}
            </optgroup>
          )}
        </select>
      </div>
      <div className="filter">
        <label className="filter-label" htmlFor={`${id}-state`}>
          State
        </label>
        <select
          id={`${id}-state`}
          value={filters.state}
          onChange={(e) => set('state', e.target.value as StateFilter)}
        >
          {STATE_FILTERS.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
      </div>
      <div className="filter filter-search">
        <label className="filter-label" htmlFor={`${id}-search`}>
          Search nodes
        </label>
        <input
          id={`${id}-search`}
          type="search"
          value={filters.search}
          placeholder="hostname…"
          onChange={(e) => set('search', e.target.value)}
          spellCheck={false}
          autoComplete="off"
        />
      </div>
      <span className="filter-count" data-testid="heatmap-count" data-shown={shown} data-total={total}>
        Showing <strong>{shown.toLocaleString('en-US')}</strong> of {total.toLocaleString('en-US')} GPUs
      </span>
      {isFiltered(filters) && (
        <button type="button" className="button button-ghost" onClick={() => onChange(NO_FILTERS)}>
          Clear filters
        </button>
      )}
    </div>
  );
}
