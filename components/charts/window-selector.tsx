'use client';

/**
 * The time window of a page's history charts: Live (what arrives on the live connection,
 * kept in a ring buffer while the page is open) or a stored-rollup window.
 */

export type HistoryWindow = '15m' | '1h' | '24h' | '7d';
export type ChartWindow = 'live' | HistoryWindow;

export const CHART_WINDOWS: readonly { value: ChartWindow; label: string }[] = [
  { value: 'live', label: 'Live' },
  { value: '15m', label: '15 min' },
  { value: '1h', label: '1 h' },
  { value: '24h', label: '24 h' },
  { value: '7d', label: '7 d' },
];

export const WINDOW_LABEL: Record<ChartWindow, string> = {
  live: 'Live',
  '15m': '15 min',
  '1h': '1 h',
  '24h': '24 h',
  '7d': '7 d',
};

/** How much a Live chart shows, and how many live points it keeps. */
export const LIVE_SPAN_MS = 5 * 60_000;
export const LIVE_RING_SIZE = 300;

export const WINDOW_SPAN_MS: Record<ChartWindow, number> = {
  live: LIVE_SPAN_MS,
  '15m': 15 * 60_000,
  '1h': 3600_000,
  '24h': 24 * 3600_000,
  '7d': 7 * 24 * 3600_000,
};

/** Short windows move visibly: they are fetched again every 30 s; long ones when reopened. */
export function historyRefetchInterval(window: ChartWindow): number | false {
  return window === '15m' || window === '1h' ? 30_000 : false;
}

/** The window a history query reads: Live pre-fills from the last 15 minutes. */
export function historyWindowOf(window: ChartWindow): HistoryWindow {
  return window === 'live' ? '15m' : window;
}

/** "last 5 minutes, live" or "over 1 h", for panel captions. */
export function windowCaption(window: ChartWindow): string {
  return window === 'live' ? 'live, last 5 minutes' : `over ${WINDOW_LABEL[window]}`;
}

export function WindowSelector({
  value,
  onChange,
}: {
  value: ChartWindow;
  onChange: (window: ChartWindow) => void;
}) {
  return (
    // A fieldset is a `group` to assistive technology: "Time window", with one pressed button.
    <fieldset className="window-selector" aria-label="Time window" data-testid="window-selector">
      {CHART_WINDOWS.map((w) => (
        <button
          key={w.value}
          type="button"
          className={w.value === value ? 'window-option active' : 'window-option'}
          aria-pressed={w.value === value}
          onClick={() => onChange(w.value)}
        >
          {w.label}
        </button>
      ))}
    </fieldset>
  );
}
