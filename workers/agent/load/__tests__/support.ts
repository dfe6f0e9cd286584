import { LatencyDistribution } from '../../../../lib/latency-histogram';
import {
  type LoadModel,
  type StressAssignment,
  type StressReport,
  ZStressAssignment,
  ZStressReport,
} from '../../../../lib/protocol/stress';
import { SimulatedModelServer } from '../../sources/simulator/model-server-http';
import { LoadGenerator, type LoadGeneratorOptions } from '../load-generator';

/** A loopback target: `slots` requests at once, each taking `serviceMs()` (FIFO beyond that). */
export async function startTarget(
  options: { slots?: number; serviceMs?: () => number; maxQueue?: number } = {},
): Promise<SimulatedModelServer & { url: string }> {
  const server = new SimulatedModelServer({
    deploymentName: 'target',
    replicas: 1,
    slotsPerReplica: options.slots ?? 256,
    serviceTimeMs: options.serviceMs ?? (() => 2),
    maxQueue: options.maxQueue,
  });
  await server.start();
  return server as SimulatedModelServer & { url: string };
}

let runs = 0;

export function assignment(load: LoadModel, overrides: Partial<StressAssignment> = {}): StressAssignment {
  return ZStressAssignment.parse({
    runId: `run-${++runs}`,
    deploymentId: 'dep-1',
    load,
    share: 1,
    warmupS: 0,
    request: { method: 'POST', path: '/v1/completions', body: '{"prompt":"hi"}' },
    startAt: Date.now() + 200,
    ...overrides,
  });
}

export type RunResult = {
  reports: StressReport[];
  /** Every latency the generator recorded, ms. */
  latencies: number[];
  generator: LoadGenerator;
};

/** Runs a generator to the end, checking every report against the protocol. */
export async function runGenerator(
  options: Omit<LoadGeneratorOptions, 'onReport' | 'onLatency'>,
): Promise<RunResult> {
  const reports: StressReport[] = [];
  const latencies: number[] = [];
  const generator = new LoadGenerator({
    ...options,
    onReport: (report) => reports.push(ZStressReport.parse(report)),
    onLatency: (latency) => latencies.push(latency),
  });
  generator.start();
  await generator.done;
  return { reports, latencies, generator };
}

/** One distribution of every report's histogram (any number of agents, any intervals). */
export function merged(reports: readonly StressReport[]): LatencyDistribution {
  const distribution = new LatencyDistribution();
  for (const report of reports) distribution.merge(LatencyDistribution.fromWire(report.histogram));
  return distribution;
}

/** The sample at the rank DDSketch answers for quantile q: floor(q × (n − 1)) of the sorted values. */
export function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

export function sum(
  reports: readonly StressReport[],
  field: 'sent' | 'completed' | 'errors' | 'late',
): number {
  return reports.reduce((total, report) => total + report[field], 0);
}
