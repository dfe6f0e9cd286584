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

/** "45 s", "12 min", "3 h 05 min", "2 d 4 h"; an em dash for null. */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ${String(min % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** GPU-hours with a precision that suits the size: 0.08, 1.3, 42. */
export function fmtGpuHours(hours: number | null | undefined): string {
  if (hours === null || hours === undefined || !Number.isFinite(hours)) return DASH;
  return hours >= 100 ? hours.toFixed(0) : hours >= 10 ? hours.toFixed(1) : hours.toFixed(2);
}

/** An axis label for a time: seconds for short spans, the date for spans over a day. */
export function fmtAxisTime(at: number, spanMs: number): string {
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (spanMs <= 20 * 60_000) return fmtClock(at);
  if (spanMs <= 26 * 3600_000) return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A tooltip label for a time: the clock, with the date for long windows. */
export function fmtWhen(at: number, spanMs: number): string {
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  return spanMs > 26 * 3600_000
    ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtClock(at)}`
    : fmtClock(at);
}
