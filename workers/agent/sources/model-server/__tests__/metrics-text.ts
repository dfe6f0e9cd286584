/**
 * /metrics pages as vLLM, Triton and a KServe model server print them (names, labels, bucket
 * layouts, the surrounding metrics a scraper must skip), generated from cumulative totals so
 * a test can move them between scrapes.
 */

/** Cumulative histogram lines for per-bucket counts (`counts[i]` observations ≤ `bounds[i]`, last is +Inf). */
function histogramLines(
  name: string,
  labels: string,
  bounds: number[],
  counts: number[],
  sum: number,
  style: 'python' | 'triton' = 'python',
): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  // Python's client prints floats (`1.0`, `0.005`); Triton prints integers.
  const le = (bound: number) =>
    style === 'python' && Number.isInteger(bound) ? bound.toFixed(1) : String(bound);
  bounds.forEach((bound, i) => {
    cumulative += counts[i] ?? 0;
    const value = style === 'python' ? cumulative.toFixed(1) : String(cumulative);
    lines.push(`${name}_bucket{${labels ? `${labels},` : ''}le="${le(bound)}"} ${value}`);
  });
  cumulative += counts[bounds.length] ?? 0;
  lines.push(
    `${name}_bucket{${labels ? `${labels},` : ''}le="+Inf"} ${style === 'python' ? cumulative.toFixed(1) : cumulative}`,
  );
  lines.push(`${name}_count{${labels}} ${style === 'python' ? cumulative.toFixed(1) : cumulative}`);
  lines.push(`${name}_sum{${labels}} ${sum}`);
  return lines;
}

export const VLLM_E2E_BOUNDS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
];

export type VllmTotals = {
  /** Per-bucket (not cumulative) counts over VLLM_E2E_BOUNDS, then the +Inf overflow. */
  e2e: number[];
  e2eSumSeconds: number;
  stop: number;
  length: number;
  error?: number;
  waiting: number;
  running: number;
};

export function vllmMetrics(totals: VllmTotals, model = 'meta-llama/Llama-3.1-8B-Instruct'): string {
  const labels = `model_name="${model}"`;
  const finished = totals.stop + totals.length + (totals.error ?? 0);
  return [
    '# HELP python_gc_objects_collected_total Objects collected during gc',
    '# TYPE python_gc_objects_collected_total counter',
    'python_gc_objects_collected_total{generation="0"} 18254.0',
    'python_gc_objects_collected_total{generation="1"} 5392.0',
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    'process_resident_memory_bytes 4.387078144e+09',
    '# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig',
    '# TYPE vllm:cache_config_info gauge',
    'vllm:cache_config_info{block_size="16",cache_dtype="auto",enable_prefix_caching="False",gpu_memory_utilization="0.9",num_gpu_blocks="27171",num_cpu_blocks="2048",sliding_window="None",swap_space_bytes="4294967296"} 1.0',
    '# HELP vllm:num_requests_running Number of requests currently running on GPU.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{${labels}} ${totals.running.toFixed(1)}`,
    '# HELP vllm:num_requests_swapped Number of requests swapped to CPU.',
    '# TYPE vllm:num_requests_swapped gauge',
    `vllm:num_requests_swapped{${labels}} 0.0`,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{${labels}} ${totals.waiting.toFixed(1)}`,
    '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.',
    '# TYPE vllm:gpu_cache_usage_perc gauge',
    `vllm:gpu_cache_usage_perc{${labels}} 0.4183`,
    '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total{${labels}} ${(finished * 812).toFixed(1)}`,
    '# HELP vllm:generation_tokens_total Number of generation tokens processed.',
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total{${labels}} ${(finished * 233).toFixed(1)}`,
    '# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.',
    '# TYPE vllm:time_to_first_token_seconds histogram',
    ...histogramLines(
      'vllm:time_to_first_token_seconds',
      labels,
      [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0],
      [0, 0, 0, 0, 0, 0, finished],
      finished * 0.07,
    ),
    `vllm:time_to_first_token_seconds_created{${labels}} 1.7329e+09`,
    '# HELP vllm:e2e_request_latency_seconds Histogram of end to end request latency in seconds.',
    '# TYPE vllm:e2e_request_latency_seconds histogram',
    ...histogramLines(
      'vllm:e2e_request_latency_seconds',
      labels,
      VLLM_E2E_BOUNDS,
      totals.e2e,
      totals.e2eSumSeconds,
    ),
    `vllm:e2e_request_latency_seconds_created{${labels}} 1.7329e+09`,
    '# HELP vllm:request_success_total Count of successfully processed requests.',
    '# TYPE vllm:request_success_total counter',
    `vllm:request_success_total{finished_reason="stop",${labels}} ${totals.stop.toFixed(1)}`,
    `vllm:request_success_total{finished_reason="length",${labels}} ${totals.length.toFixed(1)}`,
    ...(totals.error === undefined
      ? []
      : [`vllm:request_success_total{finished_reason="error",${labels}} ${totals.error.toFixed(1)}`]),
    `vllm:request_success_created{finished_reason="stop",${labels}} 1.7329e+09`,
    '',
  ].join('\n');
}

export type TritonTotals = {
  success: number;
  failure: number;
  requestUs: number;
  queueUs: number;
  pending?: number;
  /** Per-bucket counts over TRITON_FIRST_RESPONSE_BOUNDS (ms), then +Inf; absent unless histograms are on. */
  firstResponse?: number[];
  firstResponseSumMs?: number;
};

export const TRITON_FIRST_RESPONSE_BOUNDS = [100, 500, 2000, 5000];

export function tritonMetrics(totals: TritonTotals, model = 'resnet50'): string {
  const labels = `model="${model}",version="1"`;
  const lines = [
    '# HELP nv_inference_request_success Number of successful inference requests, all batch sizes',
    '# TYPE nv_inference_request_success counter',
    `nv_inference_request_success{${labels}} ${totals.success}`,
    '# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes',
    '# TYPE nv_inference_request_failure counter',
    `nv_inference_request_failure{model="${model}",reason="REJECTED",version="1"} 0`,
    `nv_inference_request_failure{model="${model}",reason="BACKEND",version="1"} ${totals.failure}`,
    `nv_inference_request_failure{model="${model}",reason="CANCELED",version="1"} 0`,
    `nv_inference_request_failure{model="${model}",reason="OTHER",version="1"} 0`,
    '# HELP nv_inference_count Number of inferences performed (does not include cached requests)',
    '# TYPE nv_inference_count counter',
    `nv_inference_count{${labels}} ${totals.success * 4}`,
    '# HELP nv_inference_exec_count Number of model executions performed (does not include cached requests)',
    '# TYPE nv_inference_exec_count counter',
    `nv_inference_exec_count{${labels}} ${totals.success}`,
    '# HELP nv_inference_request_duration_us Cumulative inference request duration in microseconds (includes cached requests)',
    '# TYPE nv_inference_request_duration_us counter',
    `nv_inference_request_duration_us{${labels}} ${totals.requestUs}`,
    '# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds (includes cached requests)',
    '# TYPE nv_inference_queue_duration_us counter',
    `nv_inference_queue_duration_us{${labels}} ${totals.queueUs}`,
    '# HELP nv_inference_compute_infer_duration_us Cumulative compute inference duration in microseconds (does not include cached requests)',
    '# TYPE nv_inference_compute_infer_duration_us counter',
    `nv_inference_compute_infer_duration_us{${labels}} ${Math.round(totals.requestUs * 0.7)}`,
  ];
  if (totals.pending !== undefined) {
    lines.push(
      '# HELP nv_inference_pending_request_count Instantaneous number of pending requests awaiting execution per-model.',
      '# TYPE nv_inference_pending_request_count gauge',
      `nv_inference_pending_request_count{${labels}} ${totals.pending}`,
    );
  }
  if (totals.firstResponse) {
    lines.push(
      '# HELP nv_inference_first_response_histogram_ms Duration from request to first response in milliseconds',
      '# TYPE nv_inference_first_response_histogram_ms histogram',
      ...histogramLines(
        'nv_inference_first_response_histogram_ms',
        labels,
        TRITON_FIRST_RESPONSE_BOUNDS,
        totals.firstResponse,
        totals.firstResponseSumMs ?? 0,
        'triton',
      ),
    );
  }
  lines.push(
    '# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)',
    '# TYPE nv_gpu_utilization gauge',
    'nv_gpu_utilization{gpu_uuid="GPU-5d5f3c7e-9c1b-4e2a-8f3d-2b7c9a1e4f60"} 0.41',
    '',
  );
  return lines.join('\n');
}

export const KSERVE_BOUNDS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

export type KserveTotals = { predict: number[]; predictSumSeconds: number; ok: number; serverErrors: number };

/** A KServe Python model server (stage histograms) behind an HTTP request counter. */
export function kserveMetrics(totals: KserveTotals, model = 'sklearn-iris'): string {
  const labels = `model_name="${model}"`;
  const requests = totals.ok + totals.serverErrors;
  return [
    '# HELP request_preprocess_seconds pre-process request latency',
    '# TYPE request_preprocess_seconds histogram',
    ...histogramLines('request_preprocess_seconds', labels, KSERVE_BOUNDS, [requests], requests * 0.001),
    '# HELP request_predict_seconds predict request latency',
    '# TYPE request_predict_seconds histogram',
    ...histogramLines(
      'request_predict_seconds',
      labels,
      KSERVE_BOUNDS,
      totals.predict,
      totals.predictSumSeconds,
    ),
    '# HELP request_postprocess_seconds post-process request latency',
    '# TYPE request_postprocess_seconds histogram',
    ...histogramLines('request_postprocess_seconds', labels, KSERVE_BOUNDS, [requests], requests * 0.0005),
    '# HELP http_requests_total Total HTTP requests by status code',
    '# TYPE http_requests_total counter',
    `http_requests_total{code="200",method="POST",path="/v1/models/${model}:predict"} ${totals.ok}.0`,
    `http_requests_total{code="503",method="POST",path="/v1/models/${model}:predict"} ${totals.serverErrors}.0`,
    '',
  ].join('\n');
}
