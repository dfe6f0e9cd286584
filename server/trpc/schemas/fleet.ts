import { z } from 'zod';
import { HISTORY_WINDOWS } from '../../services/fleet/queries';

/**
 * Output schemas of the fleet procedures, matching the read models in
 * server/services/fleet/queries.ts. tRPC validates every response against them, and the
 * OpenAPI document at /api/v1/openapi.json is generated from them, so what the reference
 * says is what a client gets. The `id` in `.meta()` names the schema in that document.
 */

const ZNullableNumber = z.number().nullable();

export const ZGpuLivePoint = z
  .object({
    id: z.string(),
    util: z.number().meta({ description: 'Utilization, 0–100 %' }),
    memUsedMiB: z.number(),
    memTotalMiB: z.number(),
    powerW: ZNullableNumber,
    tempC: ZNullableNumber,
    smClockMHz: ZNullableNumber,
  })
  .meta({ id: 'GpuLivePoint', description: 'The latest sample of a GPU (at most 5 s old)' });

export const ZGpuOwner = z
  .object({ kind: z.enum(['deployment', 'job']), id: z.string(), name: z.string() })
  .meta({ id: 'GpuOwner' });

export const ZGpu = z
  .object({
    id: z.string(),
    uuid: z.string(),
    index: z.number().int(),
    modelName: z.string(),
    memoryTotalMiB: z.number(),
    health: z.enum(['ok', 'degraded', 'failed']),
    cordoned: z.boolean().meta({ description: 'Out of allocation, by itself or with its whole node' }),
    cordonedBy: z.enum(['gpu', 'node']).nullable(),
    nodeId: z.string(),
    hostname: z.string(),
    clusterName: z.string(),
    owner: ZGpuOwner.nullable().meta({ description: 'The deployment or job holding it; null when free' }),
    live: ZGpuLivePoint.nullable(),
    idleForMs: ZNullableNumber.meta({
      description: 'How long it has been below 5 % utilization (null when busy or silent)',
    }),
  })
  .meta({ id: 'Gpu' });

export const ZNode = z
  .object({
    id: z.string(),
    hostname: z.string(),
    clusterName: z.string(),
    status: z.enum(['online', 'degraded', 'offline']),
    cordoned: z.boolean(),
    agentVersion: z.string().nullable(),
    lastHeartbeatAt: z.string().nullable().meta({ description: 'ISO 8601' }),
    labels: z.record(z.string(), z.string()),
    gpuCount: z.number().int(),
    meanUtilizationPct: ZNullableNumber,
    gpus: z.array(ZGpu),
  })
  .meta({ id: 'Node' });

export const ZLatencyPoint = z
  .object({
    deploymentId: z.string(),
    at: z.number().meta({ description: 'Unix time, ms' }),
    p50: ZNullableNumber,
    p95: ZNullableNumber,
    p99: ZNullableNumber,
    requestsPerSecond: z.number(),
    errorsPerSecond: z.number(),
    queueDepth: z.number(),
  })
  .meta({ id: 'LatencyPoint', description: 'Live latency (ms) and load of a deployment' });

export const ZDeployment = z
  .object({
    id: z.string(),
    name: z.string(),
    modelName: z.string(),
    gpusPerReplica: z.number().int(),
    gpus: z.number().int(),
    replicas: z.number().int(),
    minGpus: z.number().int(),
    maxGpus: z.number().int(),
    priority: z.number().int(),
    sloP95Ms: z.number(),
    version: z.number().int().meta({ description: 'Bumped by every allocation change touching it' }),
    live: ZLatencyPoint,
    withinSlo: z.boolean().nullable().meta({ description: 'Live p95 within the SLO; null without traffic' }),
  })
  .meta({ id: 'Deployment' });

export const ZDeploymentDetail = ZDeployment.extend({ gpuList: z.array(ZGpu) }).meta({
  id: 'DeploymentDetail',
});

export const ZFleetSummary = z
  .object({
    at: z.number(),
    gpusTotal: z.number().int(),
    gpusAllocated: z.number().int(),
    gpusIdle: z.number().int(),
    meanUtilizationPct: ZNullableNumber,
    nodesOnline: z.number().int(),
    nodesDegraded: z.number().int(),
    nodesOffline: z.number().int(),
    deploymentsTotal: z.number().int(),
    deploymentsWithinSlo: z.number().int(),
  })
  .meta({ id: 'FleetSummary' });

export const ZOverview = z.object({ summary: ZFleetSummary, latency: z.array(ZLatencyPoint) });

const ZWindowName = z.enum(HISTORY_WINDOWS);

export const ZLatencyHistory = z.object({
  window: ZWindowName,
  resolutionS: z.number().meta({ description: 'Seconds per point' }),
  points: z.array(
    z.object({
      at: z.number(),
      p50: ZNullableNumber,
      p95: ZNullableNumber,
      p99: ZNullableNumber,
      requestsPerSecond: z.number(),
      errorsPerSecond: z.number(),
      queueDepth: z.number(),
    }),
  ),
  summary: z
    .object({ p50: ZNullableNumber, p95: ZNullableNumber, p99: ZNullableNumber, requests: z.number() })
    .meta({ description: "The window's percentiles, from all its histograms merged" }),
});

export const ZGpuHistory = z.object({
  window: ZWindowName,
  resolutionS: z.number(),
  points: z.array(
    z.object({
      at: z.number(),
      utilMin: z.number(),
      utilMean: z.number(),
      utilMax: z.number(),
      memUsedMiB: z.number(),
      powerW: z.number(),
      temperatureC: z.number(),
      smClockMHz: z.number(),
    }),
  ),
});

export const ZIdleGpus = z.object({
  gpus: z.array(ZGpu.extend({ idleGpuHours: z.number() })),
  idleGpuHours24h: z.number(),
});

export const ZCordonResult = z.object({ id: z.string(), cordoned: z.boolean() });

/** The shapes API clients receive. */
export type GpuOutput = z.infer<typeof ZGpu>;
export type DeploymentOutput = z.infer<typeof ZDeployment>;
