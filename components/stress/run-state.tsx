'use client';

import { DASH } from '@/components/format';
import { Badge, type Tone } from '@/components/ui/states';
import type { StressRunState } from '@/lib/stress/run-definition';

/** How each stress-run state reads, and its colour. */
const STATE_TONE: Record<StressRunState, Tone> = {
  starting: 'info',
  running: 'info',
  passed: 'ok',
  failed: 'bad',
  aborted: 'warn',
  partial: 'warn',
  error: 'bad',
};

export function isActiveState(state: StressRunState): boolean {
  return state === 'starting' || state === 'running';
}

export function StressStateBadge({ state, stopping = false }: { state: StressRunState; stopping?: boolean }) {
  return (
    <span data-testid="stress-state" data-state={state}>
      <Badge tone={STATE_TONE[state]}>{stopping && isActiveState(state) ? 'stopping' : state}</Badge>
    </span>
  );
}

export function VerdictBadge({ pass }: { pass: boolean | null }) {
  if (pass === null) return <Badge tone="muted">not measured</Badge>;
  return <Badge tone={pass ? 'ok' : 'bad'}>{pass ? 'pass' : 'fail'}</Badge>;
}

/** A share of requests: more digits when small, so 0.04 % does not read as 0 %. */
export function fmtShare(pct: number | null | undefined): string {
  if (pct === null || pct === undefined || !Number.isFinite(pct)) return DASH;
  if (pct === 0) return '0 %';
  return `${pct < 0.1 ? pct.toFixed(3) : pct < 10 ? pct.toFixed(2) : pct.toFixed(1)} %`;
}

/** Latency with a decimal below 10 ms, where whole milliseconds hide the difference. */
export function fmtLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms).toLocaleString('en-US')} ms`;
}

export function fmtSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return DASH;
  if (s < 120) return `${Math.round(s)} s`;
  const min = Math.floor(s / 60);
  return `${min} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
}
