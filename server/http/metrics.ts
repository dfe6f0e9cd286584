import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { AppError } from '../errors';
import type { Runtime } from '../runtime';
import { resolvePrincipal } from '../trpc/context';
import { sendError } from './json';

/**
 * GET /metrics: the fleet in Prometheus text format, so Switchyard's data can be charted
 * beside other metrics. Values are read from the live state at scrape time. Like the API,
 * it needs a signed-in session or an API token with the `read` scope.
 */
export function createMetrics(runtime: Runtime) {
  const registry = new Registry();
  const { catalog, telemetry } = runtime;
  const seconds = (ms: number | null) => (ms === null ? Number.NaN : ms / 1000);

  /** A counter whose total lives elsewhere: set from it at every scrape. */
  const counterFrom = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });

  new Gauge({
    name: 'switchyard_fleet_gpus',
    help: 'GPUs in the fleet by state: total, allocated, idle (<5 % utilization now)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const summary = telemetry.summary(telemetry.latencyPoints());
      this.set({ state: 'total' }, summary.gpusTotal);
      this.set({ state: 'allocated' }, summary.gpusAllocated);
      this.set({ state: 'idle' }, summary.gpusIdle);
    },
  });
  new Gauge({
    name: 'switchyard_node_up',
    help: 'Node liveness: 1 for the node’s current status, 0 for the others',
    labelNames: ['node', 'cluster', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of catalog.nodes.values()) {
        for (const status of ['online', 'degraded', 'offline'] as const) {
          this.set(
            { node: node.hostname, cluster: node.clusterName, status },
            node.status === status ? 1 : 0,
          );
        }
      }
    },
  });

  const gpuGauge = (
    name: string,
    help: string,
    pick: (p: NonNullable<ReturnType<typeof telemetry.gpuPoint>>) => number | null,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['gpu', 'index', 'node', 'cluster', 'deployment'],
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const gpu of catalog.gpus.values()) {
          const point = telemetry.gpuPoint(gpu.id);
          if (!point || now - point.at > 5_000) continue;
          const value = pick(point);
          if (value === null) continue;
          const node = catalog.nodes.get(gpu.nodeId);
          const owner = catalog.owners.get(gpu.id);
          this.set(
            {
              gpu: gpu.uuid,
              index: String(gpu.index),
              node: node?.hostname ?? '',
              cluster: node?.clusterName ?? '',
              deployment: owner?.deploymentId
                ? (catalog.deployments.get(owner.deploymentId)?.name ?? '')
                : '',
            },
            value,
          );
        }
      },
    });
  gpuGauge('switchyard_gpu_utilization_percent', 'GPU utilization', (p) => p.util);
  gpuGauge('switchyard_gpu_memory_used_mebibytes', 'GPU memory in use', (p) => p.memUsedMiB);
  gpuGauge('switchyard_gpu_memory_total_mebibytes', 'GPU memory', (p) => p.memTotalMiB);
  gpuGauge('switchyard_gpu_power_watts', 'GPU power draw', (p) => p.powerW);
  gpuGauge('switchyard_gpu_temperature_celsius', 'GPU temperature', (p) => p.tempC);
  gpuGauge('switchyard_gpu_sm_clock_megahertz', 'GPU SM clock', (p) => p.smClockMHz);

  new Gauge({
    name: 'switchyard_deployment_latency_seconds',
    help: 'Request latency of a deployment over its latest interval, by quantile (from merged histograms)',
    labelNames: ['deployment', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      for (const point of telemetry.latencyPoints()) {
        const name = catalog.deployments.get(point.deploymentId)?.name ?? point.deploymentId;
        this.set({ deployment: name, quantile: '0.5' }, seconds(point.p50));
        this.set({ deployment: name, quantile: '0.95' }, seconds(point.p95));
        this.set({ deployment: name, quantile: '0.99' }, seconds(point.p99));
      }
    },
  });
  const deploymentGauge = (
    name: string,
    help: string,
    pick: (p: ReturnType<typeof telemetry.latencyPoint>) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['deployment'],
      registers: [registry],
      collect() {
        this.reset();
        for (const point of telemetry.latencyPoints()) {
          this.set(
            { deployment: catalog.deployments.get(point.deploymentId)?.name ?? point.deploymentId },
            pick(point),
          );
        }
      },
    });
  deploymentGauge(
    'switchyard_deployment_requests_per_second',
    'Requests per second',
    (p) => p.requestsPerSecond,
  );
  deploymentGauge(
    'switchyard_deployment_errors_per_second',
    'Failed requests per second',
    (p) => p.errorsPerSecond,
  );
  deploymentGauge('switchyard_deployment_queue_depth', 'Requests waiting', (p) => p.queueDepth);
  deploymentGauge(
    'switchyard_deployment_slo_p95_seconds',
    'The p95 latency objective',
    (p) => (catalog.deployments.get(p.deploymentId)?.sloP95Ms ?? Number.NaN) / 1000,
  );
  deploymentGauge(
    'switchyard_deployment_gpus',
    'GPUs allocated',
    (p) => catalog.gpuCountByDeployment().get(p.deploymentId) ?? 0,
  );

  counterFrom(
    'switchyard_telemetry_frames_total',
    'Telemetry frames applied (after de-duplication)',
    () => telemetry.framesIngested,
  );
  counterFrom(
    'switchyard_telemetry_gpu_samples_total',
    'GPU samples applied',
    () => telemetry.samplesIngested,
  );
  counterFrom(
    'switchyard_telemetry_frames_committed_total',
    'Frames committed to the journal',
    () => runtime.ingest.framesCommitted,
  );
  counterFrom(
    'switchyard_telemetry_commit_failures_total',
    'Journal commits that failed',
    () => runtime.ingest.commitFailures,
  );
  counterFrom(
    'switchyard_rollup_rows_written_total',
    'Rollup rows written',
    () => runtime.rollups.rowsWritten,
  );
  new Gauge({
    name: 'switchyard_agents_connected',
    help: 'Agent connections',
    registers: [registry],
    collect() {
      this.set(runtime.io.of('/agent').sockets.size);
    },
  });
  new Gauge({
    name: 'switchyard_telemetry_frames_waiting',
    help: 'Telemetry frames waiting for their journal commit (at most 256 per node)',
    registers: [registry],
    collect() {
      this.set(runtime.ingest.backlog);
    },
  });
  new Gauge({
    name: 'switchyard_rollup_buckets_pending',
    help: '10 s buckets waiting to be written',
    registers: [registry],
    collect() {
      this.set(runtime.rollups.pendingBuckets);
    },
  });

  return async (req: IncomingMessage, res: ServerResponse) => {
    const principal = await resolvePrincipal(runtime, req);
    if (!principal)
      return sendError(res, new AppError('UNAUTHORIZED', 'Send an API token with the read scope'));
    if (principal.kind === 'token' && !principal.scopes.includes('read')) {
      return sendError(res, new AppError('FORBIDDEN', 'This API token lacks the "read" scope'));
    }
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(body);
  };
}
