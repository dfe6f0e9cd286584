import { type IntervalBucket, intervalBuckets } from '../prometheus/bucketed-latency';
import { SUM_KEY_PREFIX } from '../prometheus/cumulative';
import { type Exposition, labelKey, type PromLabels } from '../prometheus/exposition';

/**
 * How each kind of model server exposes its traffic, turned into one interval's numbers.
 * A reader names the cumulative values to track (so the source can take differences
 * between scrapes) and reads an interval from those differences and the current gauges.
 */

export type ModelServerKind = 'vllm' | 'triton' | 'kserve';
export const MODEL_SERVER_KINDS = ['vllm', 'triton', 'kserve', 'auto'] as const;

/** One endpoint's traffic during an interval. */
export type IntervalTraffic = {
  requests: number;
  errors: number;
  queueDepth: number;
  buckets: IntervalBucket[];
  /** Exact sum of the interval's latencies when the server exposes one. */
  latencySumMs: number | null;
};

export interface ModelServerReader {
  readonly kind: ModelServerKind;
  cumulative(exposition: Exposition): Map<string, number>;
  interval(exposition: Exposition, deltas: Map<string, number>, elapsedMs: number): IntervalTraffic;
}

export function detectKind(exposition: Exposition): ModelServerKind {
  const names = exposition.names();
  if (names.some((name) => name.startsWith('vllm:'))) return 'vllm';
  if (names.some((name) => name.startsWith('nv_inference_'))) return 'triton';
  return 'kserve';
}

export function readerFor(kind: ModelServerKind): ModelServerReader {
  switch (kind) {
    case 'vllm':
      return vllmReader;
    case 'triton':
      return tritonReader;
    case 'kserve':
      return genericReader;
  }
}

// --- Keys of tracked cumulative values ---------------------------------------------------

const bucketKey = (family: string, series: string, le: number) => `bucket|${family}|${series}|${le}`;
const countKey = (family: string, series: string) => `count|${family}|${series}`;
const sumKey = (family: string, series: string) => `${SUM_KEY_PREFIX}${family}|${series}`;
const counterKey = (name: string, series: string) => `counter|${name}|${series}`;

function trackHistogram(values: Map<string, number>, exposition: Exposition, family: string): void {
  for (const series of exposition.histogram(family)) {
    for (const { le, count } of series.buckets) values.set(bucketKey(family, series.key, le), count);
    if (series.count !== null) values.set(countKey(family, series.key), series.count);
    if (series.sum !== null) values.set(sumKey(family, series.key), series.sum);
  }
}

function trackCounter(values: Map<string, number>, exposition: Exposition, name: string): void {
  for (const sample of exposition.series(name)) {
    if (Number.isFinite(sample.value)) values.set(counterKey(name, labelKey(sample.labels)), sample.value);
  }
}

type HistogramInterval = { count: number; sumMs: number | null; buckets: IntervalBucket[] };

/** One interval of a histogram family, over all its series; null when the family is absent. */
function histogramInterval(
  exposition: Exposition,
  deltas: Map<string, number>,
  family: string,
  toMs: number,
): HistogramInterval | null {
  const series = exposition.histogram(family);
  if (series.length === 0) return null;
  let count = 0;
  let sum: number | null = 0;
  const buckets: IntervalBucket[] = [];
  for (const one of series) {
    const cumulative = one.buckets.map(({ le }) => ({
      le,
      delta: deltas.get(bucketKey(family, one.key, le)) ?? 0,
    }));
    buckets.push(...intervalBuckets(cumulative, toMs));
    const counted = deltas.get(countKey(family, one.key));
    // A histogram without _count still counts: its +Inf bucket is the total.
    count += counted ?? cumulative.at(-1)?.delta ?? 0;
    const summed = deltas.get(sumKey(family, one.key));
    sum = summed === undefined || sum === null ? null : sum + summed * toMs;
  }
  return { count: Math.round(count), sumMs: sum, buckets };
}

function counterIncrease(
  exposition: Exposition,
  deltas: Map<string, number>,
  name: string,
  filter: (labels: PromLabels) => boolean = () => true,
): number | null {
  const series = exposition.series(name).filter((sample) => filter(sample.labels));
  if (series.length === 0) return null;
  return series.reduce(
    (total, sample) => total + (deltas.get(counterKey(name, labelKey(sample.labels))) ?? 0),
    0,
  );
}

/** Milliseconds per unit of a latency metric, from its name's unit suffix. */
function msPerUnit(name: string): number {
  if (/_(seconds|s)$/.test(name)) return 1000;
  if (/_(microseconds|us)$/.test(name)) return 1e-3;
  return 1;
}

// --- vLLM -----------------------------------------------------------------------------

const VLLM_LATENCY = 'vllm:e2e_request_latency_seconds';
const VLLM_FINISHED = 'vllm:request_success_total';

/**
 * vLLM: end-to-end latency histogram, finished requests by reason, and the scheduler's
 * waiting queue. vLLM exposes no failure counter; a finished reason of "error" (newer
 * versions) is counted as an error.
 */
const vllmReader: ModelServerReader = {
  kind: 'vllm',
  cumulative(exposition) {
    const values = new Map<string, number>();
    trackHistogram(values, exposition, VLLM_LATENCY);
    trackCounter(values, exposition, VLLM_FINISHED);
    return values;
  },
  interval(exposition, deltas) {
    const latency = histogramInterval(exposition, deltas, VLLM_LATENCY, 1000);
    const finished = counterIncrease(exposition, deltas, VLLM_FINISHED);
    const errors = counterIncrease(exposition, deltas, VLLM_FINISHED, (l) => l.finished_reason === 'error');
    return {
      requests: Math.round(latency?.count ?? finished ?? 0),
      errors: Math.round(errors ?? 0),
      queueDepth: exposition.total('vllm:num_requests_waiting') ?? 0,
      buckets: latency?.buckets ?? [],
      latencySumMs: latency?.sumMs ?? null,
    };
  },
};

// --- Triton ---------------------------------------------------------------------------

const TRITON_SUCCESS = 'nv_inference_request_success';
const TRITON_FAILURE = 'nv_inference_request_failure';
const TRITON_REQUEST_US = 'nv_inference_request_duration_us';
const TRITON_QUEUE_US = 'nv_inference_queue_duration_us';
const TRITON_FIRST_RESPONSE = 'nv_inference_first_response_histogram_ms';

/**
 * Triton: success and failure counters, and cumulative request and queue time in µs. Its
 * latency histogram (first response, in ms) is optional; without it only the mean latency
 * of the interval is known, and every request is recorded at that mean. Queue depth is the
 * pending-request gauge, or else the average number queued over the interval from Little's
 * law (queue time accumulated ÷ time elapsed).
 */
const tritonReader: ModelServerReader = {
  kind: 'triton',
  cumulative(exposition) {
    const values = new Map<string, number>();
    for (const name of [TRITON_SUCCESS, TRITON_FAILURE, TRITON_REQUEST_US, TRITON_QUEUE_US]) {
      trackCounter(values, exposition, name);
    }
    trackHistogram(values, exposition, TRITON_FIRST_RESPONSE);
    return values;
  },
  interval(exposition, deltas, elapsedMs) {
    const success = counterIncrease(exposition, deltas, TRITON_SUCCESS) ?? 0;
    const failure = counterIncrease(exposition, deltas, TRITON_FAILURE) ?? 0;
    const latency = histogramInterval(exposition, deltas, TRITON_FIRST_RESPONSE, 1);
    let buckets: IntervalBucket[] = [];
    let latencySumMs: number | null = null;
    if (latency && latency.count > 0) {
      buckets = latency.buckets;
      latencySumMs = latency.sumMs;
    } else {
      const requestMs = (counterIncrease(exposition, deltas, TRITON_REQUEST_US) ?? 0) / 1000;
      const served = Math.round(success);
      if (served > 0 && requestMs > 0) {
        const meanMs = requestMs / served;
        // A zero-width bucket: every request of the interval at the mean.
        buckets = [{ lowerMs: meanMs, upperMs: meanMs, count: served }];
        latencySumMs = requestMs;
      }
    }
    const pending = exposition.total('nv_inference_pending_request_count');
    const queuedMs = (counterIncrease(exposition, deltas, TRITON_QUEUE_US) ?? 0) / 1000;
    return {
      requests: Math.round(success + failure),
      errors: Math.round(failure),
      queueDepth: pending ?? (elapsedMs > 0 ? queuedMs / elapsedMs : 0),
      buckets,
      latencySumMs,
    };
  },
};

// --- KServe and other Prometheus-instrumented servers ------------------------------------

/** Latency histograms in order of preference; the first one present is used, never two. */
const GENERIC_LATENCY: RegExp[] = [
  /^request_latency_seconds$/,
  /_request_latency_seconds$/,
  /^request_duration_seconds$/,
  /_request_duration_seconds$/,
  /_(latency|duration)_seconds$/,
  // KServe's model server times its stages; predict is the one every request goes through.
  /^request_predict_seconds$/,
  /_(latency|duration)_(ms|milliseconds)$/,
];
const REQUESTS_TOTAL = /_requests_total$/;
const ERRORS_TOTAL = /_(errors|failures|failed_requests)_total$/;
const QUEUE_GAUGE = /(queue_(size|depth|length)|requests_(waiting|pending|queued)|pending_requests)$/;
const STATUS_LABELS = ['code', 'status', 'status_code', 'response_code'];

function genericLatencyFamily(exposition: Exposition): string | undefined {
  const families = exposition.histogramFamilies().sort();
  for (const pattern of GENERIC_LATENCY) {
    const found = families.find((family) => pattern.test(family));
    if (found) return found;
  }
  return undefined;
}

/** The shortest `*_requests_total` name: the least specific, so the overall count. */
function requestsCounter(exposition: Exposition): string | undefined {
  return exposition
    .names()
    .filter((name) => REQUESTS_TOTAL.test(name))
    .sort((a, b) => a.length - b.length || a.localeCompare(b))[0];
}

function isServerError(labels: PromLabels): boolean {
  return STATUS_LABELS.some((label) => /^5\d\d$/.test(labels[label] ?? ''));
}

/**
 * KServe and generic servers: a request latency histogram (`request_latency_seconds`,
 * `*_request_duration_seconds`, ...), a `*_requests_total` counter (5xx status labels are
 * errors) or else the histogram's count, `*_errors_total`-style counters, and a queue gauge
 * when one is exposed.
 */
const genericReader: ModelServerReader = {
  kind: 'kserve',
  cumulative(exposition) {
    const values = new Map<string, number>();
    const latency = genericLatencyFamily(exposition);
    if (latency) trackHistogram(values, exposition, latency);
    const requests = requestsCounter(exposition);
    if (requests) trackCounter(values, exposition, requests);
    for (const name of exposition.names())
      if (ERRORS_TOTAL.test(name)) trackCounter(values, exposition, name);
    return values;
  },
  interval(exposition, deltas) {
    const family = genericLatencyFamily(exposition);
    const latency = family ? histogramInterval(exposition, deltas, family, msPerUnit(family)) : null;
    const requestsName = requestsCounter(exposition);
    const counted = requestsName ? counterIncrease(exposition, deltas, requestsName) : null;
    let errors = requestsName ? (counterIncrease(exposition, deltas, requestsName, isServerError) ?? 0) : 0;
    for (const name of exposition.names()) {
      if (ERRORS_TOTAL.test(name)) errors += counterIncrease(exposition, deltas, name) ?? 0;
    }
    const queues = exposition.names().filter((name) => QUEUE_GAUGE.test(name));
    return {
      requests: Math.round(counted ?? latency?.count ?? 0),
      errors: Math.round(errors),
      queueDepth: queues.reduce((total, name) => total + (exposition.total(name) ?? 0), 0),
      buckets: latency?.buckets ?? [],
      latencySumMs: latency?.sumMs ?? null,
    };
  },
};
