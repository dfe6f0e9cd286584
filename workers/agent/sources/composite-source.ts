import type { LatencyHistogramWire } from '../../../lib/latency-histogram';
import type { Assignments, DeploymentSample, GpuInventory, GpuSample } from '../../../lib/protocol/agent';
import { type AgentLog, errorMessage } from '../log';
import { type GpuReading, type GpuReadingSource, GpuSampleBuilder, mergeGpuReadings } from './gpu-reading';
import type { InferenceEndpoint, TelemetrySample, TelemetrySource } from './source';

export type CompositeSourceOptions = {
  /** GPU collectors, in order of preference: readings are merged per GPU UUID. */
  gpuSources: GpuReadingSource[];
  /** Sources whose samples are taken whole (the simulator, model servers), named for the log. */
  otherSources: { name: string; source: TelemetrySource }[];
  log: AgentLog;
};

type Part = { name: string; failing: boolean };

/**
 * Several sources as one. GPU readings come from the GPU collectors, merged per GPU (the
 * first collector wins where both have a value, the others fill in what it lacks); the
 * inventory comes from the first GPU collector that answers. Deployment samples come from
 * the other sources; two samples for the same deployment are added together.
 *
 * A failing part does not stop the others: the frame carries what could be read, and the
 * failure is logged when it starts and when it ends. Only when every part fails does the
 * sample fail.
 */
export class CompositeSource implements TelemetrySource {
  readonly cumulative: boolean;
  private readonly gpuSources: GpuReadingSource[];
  private readonly otherSources: TelemetrySource[];
  private readonly log: AgentLog;
  private readonly builder: GpuSampleBuilder;
  private readonly parts = new Map<object, Part>();

  constructor(options: CompositeSourceOptions) {
    this.gpuSources = options.gpuSources;
    this.otherSources = options.otherSources.map(({ source }) => source);
    this.log = options.log;
    this.builder = new GpuSampleBuilder(options.log, options.gpuSources.map((s) => s.kind).join('+'));
    this.cumulative = [...this.gpuSources, ...this.otherSources].some((source) => source.cumulative);
    for (const source of this.gpuSources) this.parts.set(source, { name: source.kind, failing: false });
    for (const { name, source } of options.otherSources) this.parts.set(source, { name, failing: false });
  }

  async inventory(): Promise<GpuInventory[]> {
    const errors: string[] = [];
    for (const source of this.gpuSources) {
      try {
        return await source.inventory();
      } catch (error) {
        errors.push(errorMessage(error));
      }
    }
    if (errors.length > 0) throw new Error(errors.join('; '));
    const inventories = await Promise.all(this.otherSources.map((source) => source.inventory()));
    return inventories.flat();
  }

  applyAssignments(assignments: Assignments): void {
    for (const source of [...this.gpuSources, ...this.otherSources]) source.applyAssignments(assignments);
  }

  inferenceEndpoints(): InferenceEndpoint[] {
    return this.otherSources.flatMap((source) => source.inferenceEndpoints?.() ?? []);
  }

  onInferenceEndpointsChange(listener: () => void): void {
    for (const source of this.otherSources) source.onInferenceEndpointsChange?.(listener);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.gpuSources, ...this.otherSources].map((source) => source.close?.()));
  }

  async sample(intervalMs: number): Promise<TelemetrySample> {
    const [readings, samples] = await Promise.all([
      Promise.all(this.gpuSources.map((source) => this.attempt(source, () => source.readGpus()))),
      Promise.all(this.otherSources.map((source) => this.attempt(source, () => source.sample(intervalMs)))),
    ]);
    const answered = [...readings, ...samples].filter((result) => result !== undefined);
    if (answered.length === 0) {
      throw new Error(`no source could be read (${[...this.parts.values()].map((p) => p.name).join(', ')})`);
    }
    const gpus: GpuSample[] = this.builder.samples(
      mergeGpuReadings(readings.filter((r): r is GpuReading[] => r !== undefined)),
    );
    const deployments: DeploymentSample[] = [];
    for (const sample of samples) {
      if (!sample) continue;
      for (const gpu of sample.gpus) if (!gpus.some((known) => known.uuid === gpu.uuid)) gpus.push(gpu);
      deployments.push(...sample.deployments);
    }
    return { gpus, deployments: mergeDeployments(deployments) };
  }

  private async attempt<T>(source: object, read: () => Promise<T>): Promise<T | undefined> {
    const part = this.parts.get(source) as Part;
    try {
      const result = await read();
      if (part.failing) {
        part.failing = false;
        this.log.info(`${part.name}: reading again`);
      }
      return result;
    } catch (error) {
      if (!part.failing) {
        part.failing = true;
        this.log.warn(`${part.name}: ${errorMessage(error)}; sending what the other sources read`);
      }
      return undefined;
    }
  }
}

/** Adds up samples of the same deployment (e.g. the simulator and a real server both serving it). */
export function mergeDeployments(samples: DeploymentSample[]): DeploymentSample[] {
  const merged = new Map<string, DeploymentSample>();
  for (const sample of samples) {
    const known = merged.get(sample.deploymentId);
    if (!known) {
      merged.set(sample.deploymentId, sample);
      continue;
    }
    merged.set(sample.deploymentId, {
      deploymentId: sample.deploymentId,
      requests: known.requests + sample.requests,
      errors: known.errors + sample.errors,
      queueDepth: known.queueDepth + sample.queueDepth,
      latencyMs: mergeLatency(known.latencyMs, sample.latencyMs),
    });
  }
  return [...merged.values()];
}

function mergeLatency(a: LatencyHistogramWire, b: LatencyHistogramWire): LatencyHistogramWire {
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const bins = new Map<number, number>(a.bins);
  for (const [key, count] of b.bins) bins.set(key, (bins.get(key) ?? 0) + count);
  return {
    bins: [...bins.entries()].sort((x, y) => x[0] - y[0]),
    zeroCount: a.zeroCount + b.zeroCount,
    count: a.count + b.count,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
  };
}
