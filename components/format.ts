/** Display helpers shared by the console pages. Missing values print as an em dash. */

export const DASH = '—';

export function fmtInt(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? DASH
    : Math.round(value).toLocaleString('en-US');
}

export function fmtPct(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? DASH
    : `${value.toFixed(digits)} %`;
}

export function fmtMs(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? DASH
    : `${Math.round(value).toLocaleString('en-US')} ms`;
}

export function fmtRate(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function fmtGiB(mib: number | null | undefined): string {
  return mib === null || mib === undefined || !Number.isFinite(mib) ? DASH : (mib / 1024).toFixed(1);
}

export function fmtMemory(usedMiB: number | null | undefined, totalMiB: number | null | undefined): string {
  return `${fmtGiB(usedMiB)} / ${fmtGiB(totalMiB)} GiB`;
}

export function fmtWatts(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : `${Math.round(value)} W`;
}

export function fmtCelsius(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : `${Math.round(value)} °C`;
}

export function fmtMHz(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : `${Math.round(value)} MHz`;
}

export function fmtClock(at: number): string {
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "4 s ago", "3 min ago", "2 h ago"; an em dash for never. */
export function fmtAgo(iso: string | number | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return DASH;
  const at = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(at)) return DASH;
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}
