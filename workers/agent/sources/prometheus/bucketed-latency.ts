import type { LatencyRecorder } from '../../../../lib/latency-histogram';

/** One bucket's share of an interval: `count` observations in (lowerMs, upperMs]. */
export type IntervalBucket = { lowerMs: number; upperMs: number; count: number };

/**
 * Per-bucket counts for one interval, from the increases of a histogram's cumulative
 * buckets (`le` ascending). Prometheus buckets are cumulative (`le="0.5"` counts everything
 * ≤ 0.5 s), so a bucket's own count is its increase minus the one below it. Bounds are
 * scaled to milliseconds by `toMs`.
 */
export function intervalBuckets(cumulative: { le: number; delta: number }[], toMs: number): IntervalBucket[] {
  const buckets: IntervalBucket[] = [];
  let lower = 0;
  let below = 0;
  for (const { le, delta } of cumulative) {
    // Scrapes are not atomic: a bucket read a moment before the one below it can look smaller.
    const count = Math.max(0, Math.round(delta - below));
    if (count > 0) buckets.push({ lowerMs: lower * toMs, upperMs: le * toMs, count });
    below = Math.max(below, delta);
    lower = le;
  }
  return buckets;
}

/**
 * Records bucketed observations into a latency recorder. This is where a bucketed source
 * loses precision: the model server only says how many requests fell between two bounds,
 * so each bucket's requests are recorded at one value inside it — the geometric mid-point
 * of its bounds (the middle on the log scale the wire histogram uses), half the upper bound
 * for the first bucket (whose lower bound is 0), and the lower bound for the +Inf bucket,
 * the only value known to be reached. Percentiles are then only as fine as the server's
 * bucket layout, not the 1 % the wire format could carry.
 */
export function recordBuckets(recorder: LatencyRecorder, buckets: IntervalBucket[], meanMs?: number): void {
  for (const { lowerMs, upperMs, count } of buckets) {
    recorder.record(representativeMs(lowerMs, upperMs, meanMs), count);
  }
}

function representativeMs(lowerMs: number, upperMs: number, meanMs: number | undefined): number {
  if (!Number.isFinite(upperMs)) {
    // A histogram with only the +Inf bucket says nothing about where values lie but their mean.
    return lowerMs > 0 ? lowerMs : (meanMs ?? 0);
  }
  if (lowerMs <= 0) return upperMs / 2;
  return Math.sqrt(lowerMs * upperMs);
}
