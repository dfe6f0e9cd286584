/**
 * Pass/fail gates of a stress run, written the way people say them: "p95 < 250ms",
 * "p99 <= 1.2s", "errors < 1%", "late < 5%". Latency gates compare a percentile (or the
 * maximum) of the merged distribution of every measured request; `errors` and `late` are
 * shares of the requests.
 */

export const LATENCY_METRICS = ['p50', 'p90', 'p95', 'p99', 'p99.9', 'max'] as const;
export const RATIO_METRICS = ['errors', 'late'] as const;
export const THRESHOLD_METRICS = [...LATENCY_METRICS, ...RATIO_METRICS] as const;

export type LatencyMetric = (typeof LATENCY_METRICS)[number];
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];
export type ThresholdOp = '<' | '<=';

export type Threshold = {
  /** As written (trimmed), e.g. "p95 < 250ms". */
  text: string;
  metric: ThresholdMetric;
  op: ThresholdOp;
  /** Milliseconds for latency metrics (seconds are converted), percent for errors and late. */
  value: number;
  unit: 'ms' | '%';
};

/** The quantile each latency metric reads; `max` is the largest value seen. */
export const METRIC_QUANTILE: Record<Exclude<LatencyMetric, 'max'>, number> = {
  p50: 0.5,
  p90: 0.9,
  p95: 0.95,
  p99: 0.99,
  'p99.9': 0.999,
};

/** What a run measured so far, in the units thresholds use (ms, %); null when unknown. */
export type MeasuredFigures = Record<LatencyMetric, number | null> & {
  errorsPct: number | null;
  latePct: number | null;
};

const SHAPE = /^([a-z][a-z0-9.]*)\s*(<=|<|>=|>|=)?\s*(.*)$/i;
const NUMBER_WITH_UNIT = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z%]*)$/i;

export type ThresholdParse = { ok: true; threshold: Threshold } | { ok: false; error: string };

/** Parses one threshold; the error quotes it and says what to write instead. */
export function parseThreshold(input: string): ThresholdParse {
  const text = input.trim().replace(/\s+/g, ' ');
  const fail = (why: string): ThresholdParse => ({ ok: false, error: `"${text}": ${why}` });
  if (text === '') return { ok: false, error: 'empty threshold; write e.g. "p95 < 250ms"' };

  const shape = SHAPE.exec(text);
  if (!shape) return fail('expected METRIC < VALUE, e.g. "p95 < 250ms" or "errors < 1%"');
  const [, rawMetric = '', op, rest = ''] = shape;
  const metric = rawMetric.toLowerCase() as ThresholdMetric;
  if (!THRESHOLD_METRICS.includes(metric)) {
    return fail(`unknown metric "${rawMetric}"; use one of ${THRESHOLD_METRICS.join(', ')}`);
  }
  if (op !== '<' && op !== '<=') {
    return fail(op ? `"${op}" is not supported; use < or <=` : 'missing comparison; use < or <=');
  }
  const number = NUMBER_WITH_UNIT.exec(rest.trim());
  if (!number) return fail(`"${rest.trim() || '(nothing)'}" is not a number with a unit`);
  const [, digits = '', rawUnit = ''] = number;
  const amount = Number(digits);
  const unit = rawUnit.toLowerCase();

  if ((RATIO_METRICS as readonly string[]).includes(metric)) {
    if (unit !== '%') return fail(`${metric} is a share of requests; write it in %, e.g. "${metric} < 1%"`);
    if (amount > 100) return fail('a share cannot exceed 100%');
    return { ok: true, threshold: { text, metric, op, value: amount, unit: '%' } };
  }
  if (unit === 'ms') return { ok: true, threshold: { text, metric, op, value: amount, unit: 'ms' } };
  if (unit === 's') return { ok: true, threshold: { text, metric, op, value: amount * 1000, unit: 'ms' } };
  return fail(unit === '' ? 'add a unit: ms or s' : `unknown unit "${rawUnit}" for a latency; use ms or s`);
}

/** The measured value a threshold compares, or null while there is nothing to compare. */
export function measuredFor(threshold: Threshold, figures: MeasuredFigures): number | null {
  if (threshold.metric === 'errors') return figures.errorsPct;
  if (threshold.metric === 'late') return figures.latePct;
  return figures[threshold.metric];
}

export function thresholdHolds(threshold: Threshold, measured: number): boolean {
  return threshold.op === '<' ? measured < threshold.value : measured <= threshold.value;
}

export type ThresholdVerdict = {
  text: string;
  metric: ThresholdMetric;
  op: ThresholdOp;
  value: number;
  unit: 'ms' | '%';
  /** null while nothing was measured. */
  pass: boolean | null;
  measured: number | null;
};

export function judgeThreshold(threshold: Threshold, figures: MeasuredFigures): ThresholdVerdict {
  const measured = measuredFor(threshold, figures);
  return { ...threshold, measured, pass: measured === null ? null : thresholdHolds(threshold, measured) };
}

/** "p95 < 250 ms" (normalized), for labels and chart reference lines. */
export function describeThreshold(threshold: Pick<Threshold, 'metric' | 'op' | 'value' | 'unit'>): string {
  const amount = Number.isInteger(threshold.value) ? threshold.value : +threshold.value.toFixed(3);
  return `${threshold.metric} ${threshold.op} ${amount} ${threshold.unit}`;
}
