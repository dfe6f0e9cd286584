import { LatencyRecorder } from '../../../../lib/latency-histogram';
import type { Assignments, DeploymentSample, GpuInventory } from '../../../../lib/protocol/agent';
import { type AgentLog, errorMessage, OnceLog } from '../../log';
import { recordBuckets } from '../prometheus/bucketed-latency';
import { CumulativeTracker } from '../prometheus/cumulative';
import { scrape } from '../prometheus/scrape';
import type { TelemetrySample, TelemetrySource } from '../source';
import {
  detectKind,
  type IntervalTraffic,
  MODEL_SERVER_KINDS,
  type ModelServerKind,
  readerFor,
} from './readers';

export { MODEL_SERVER_KINDS };

export type ModelServerSourceOptions = {
  /** /metrics endpoints of the model server processes that serve this deployment on this node. */
  urls: string[];
  kind?: ModelServerKind | 'auto';
  /** The deployment these servers serve; when absent, the single deployment assigned to this node. */
  deploymentId?: string;
  log: AgentLog;
  timeoutMs?: number;
  now?: () => number;
};

type Endpoint = {
  url: string;
  tracker: CumulativeTracker;
  kind: ModelServerKind | null;
  scrapedAt: number;
  failing: boolean;
};

/**
 * A deployment's traffic on this node, scraped from its model servers' Prometheus metrics
 * (vLLM, Triton, KServe or any server with a request latency histogram). Counters and
 * histograms are cumulative, so each interval is the difference between two scrapes; the
 * first scrape of an endpoint only sets the baseline and yields no sample. An endpoint that
 * could not be scraped for a while reports everything since its last good scrape in the
 * next interval, so totals over any window stay right. Several endpoints (replicas of one
 * deployment on this node) add up to one deployment sample.
 * Reports no GPUs: combine it with a GPU source.
 */
export class ModelServerSource implements TelemetrySource {
  readonly cumulative = true;
  private readonly endpoints: Endpoint[];
  private readonly fixedKind: ModelServerKind | null;
  private readonly deploymentId: string | undefined;
  private readonly log: AgentLog;
  private readonly once: OnceLog;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private assignedDeployments: string[] = [];

  constructor(options: ModelServerSourceOptions) {
    if (options.urls.length === 0) throw new RangeError('at least one metrics URL is needed');
    this.fixedKind = !options.kind || options.kind === 'auto' ? null : options.kind;
    this.endpoints = options.urls.map((url) => ({
      url,
      tracker: new CumulativeTracker(),
      kind: this.fixedKind,
      scrapedAt: 0,
      failing: false,
    }));
    this.deploymentId = options.deploymentId;
    this.log = options.log;
    this.once = new OnceLog(options.log);
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  async inventory(): Promise<GpuInventory[]> {
    return [];
  }

  applyAssignments(assignments: Assignments): void {
    const ids = new Set<string>();
    for (const gpu of assignments.gpus) if (gpu.deploymentId) ids.add(gpu.deploymentId);
    this.assignedDeployments = [...ids];
  }

  async sample(): Promise<TelemetrySample> {
    const intervals = await Promise.all(this.endpoints.map((endpoint) => this.readInterval(endpoint)));
    const traffic = intervals.filter((interval): interval is IntervalTraffic => interval !== null);
    if (traffic.length === 0) return { gpus: [], deployments: [] };
    const deploymentId = this.resolveDeploymentId();
    if (!deploymentId) return { gpus: [], deployments: [] };
    return { gpus: [], deployments: [combine(deploymentId, traffic)] };
  }

  private resolveDeploymentId(): string | undefined {
    if (this.deploymentId) return this.deploymentId;
    const [only, ...others] = this.assignedDeployments;
    if (only && others.length === 0) {
      this.once.forget('deployment');
      return only;
    }
    this.once.warn(
      'deployment',
      `model-server: ${
        only ? 'several deployments are' : 'no deployment is'
      } assigned to this node's GPUs; pass --deployment-id to say which one the model server serves`,
    );
    return undefined;
  }

  /** One endpoint's interval, or null on its first scrape or when it cannot be scraped. */
  private async readInterval(endpoint: Endpoint): Promise<IntervalTraffic | null> {
    const scrapedAt = this.now();
    let exposition: Awaited<ReturnType<typeof scrape>>;
    try {
      exposition = await scrape(endpoint.url, { timeoutMs: this.timeoutMs });
    } catch (error) {
      if (!endpoint.failing) {
        endpoint.failing = true;
        this.log.warn(`model-server: cannot scrape ${endpoint.url}: ${errorMessage(error)}`);
      }
      return null;
    }
    if (endpoint.failing) {
      endpoint.failing = false;
      this.log.info(`model-server: scraping ${endpoint.url} again`);
    }
    if (exposition.skippedLines > 0) {
      this.once.warn(
        `skipped ${endpoint.url}`,
        `model-server: ${endpoint.url} has ${exposition.skippedLines} unreadable lines; using the rest`,
      );
    }
    const kind = this.fixedKind ?? detectKind(exposition);
    if (kind !== endpoint.kind) {
      // Another kind tracks other counters: start from a fresh baseline rather than count
      // everything the newly recognised counters ever held as this interval's.
      if (endpoint.kind !== null) endpoint.tracker.rebaseline();
      endpoint.kind = kind;
      this.log.info(`model-server: ${endpoint.url} looks like ${kind}`);
    }
    const reader = readerFor(kind);
    const deltas = endpoint.tracker.step(reader.cumulative(exposition));
    const elapsedMs = endpoint.scrapedAt === 0 ? 0 : scrapedAt - endpoint.scrapedAt;
    endpoint.scrapedAt = scrapedAt;
    if (!deltas) return null;
    if (deltas.reset) this.log.info(`model-server: counters at ${endpoint.url} went back: it restarted`);
    return reader.interval(exposition, deltas.values, elapsedMs);
  }
}

/** Adds the endpoints' intervals up into one deployment sample. */
function combine(deploymentId: string, traffic: IntervalTraffic[]): DeploymentSample {
  const recorder = new LatencyRecorder();
  let requests = 0;
  let errors = 0;
  let queueDepth = 0;
  let exactSumMs: number | null = 0;
  for (const interval of traffic) {
    requests += interval.requests;
    errors += interval.errors;
    queueDepth += interval.queueDepth;
    const counted = interval.buckets.reduce((total, bucket) => total + bucket.count, 0);
    const meanMs =
      interval.latencySumMs !== null && counted > 0 ? interval.latencySumMs / counted : undefined;
    recordBuckets(recorder, interval.buckets, meanMs);
    if (counted > 0)
      exactSumMs =
        exactSumMs === null || interval.latencySumMs === null ? null : exactSumMs + interval.latencySumMs;
  }
  const latencyMs = recorder.drain();
  // The servers' own sums are exact where the bucket mid-points are not: keep them for the mean.
  if (latencyMs.count > 0 && exactSumMs !== null && Number.isFinite(exactSumMs) && exactSumMs >= 0) {
    latencyMs.sum = exactSumMs;
  }
  return {
    deploymentId,
    requests,
    errors,
    queueDepth: Math.round(Math.max(0, queueDepth) * 100) / 100,
    latencyMs,
  };
}
