import { LatencyDistribution } from '../../../lib/latency-histogram';
import type { GpuLivePoint } from '../../../lib/protocol/live';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import { IDLE_UTILIZATION_PCT, type LiveTelemetry } from '../telemetry/live-telemetry';
import type { FleetCatalog } from './catalog';

/** Read models for the fleet views and the API. Live figures come from memory, the rest from Postgres. */

/** An allocated GPU idle this long stands out as wasted. */
export const IDLE_ALLOCATED_AFTER_MS = 5 * 60_000;

export const HISTORY_WINDOWS = ['15m', '1h', '24h', '7d'] as const;
export type HistoryWindow = (typeof HISTORY_WINDOWS)[number];
const WINDOW_MS: Record<HistoryWindow, number> = {
  '15m': 15 * 60_000,
  '1h': 3600_000,
  '24h': 24 * 3600_000,
  '7d': 7 * 24 * 3600_000,
};
/** Short windows read 10 s rollups, long ones 1 min rollups. */
const WINDOW_RESOLUTION_S: Record<HistoryWindow, number> = { '15m': 10, '1h': 10, '24h': 60, '7d': 60 };
/** Charts get at most this many points; neighbouring buckets are merged to fit. */
const MAX_POINTS = 360;

export type GpuView = {
  id: string;
  uuid: string;
  index: number;
  modelName: string;
  memoryTotalMiB: number;
  health: 'ok' | 'degraded' | 'failed';
  /** Out of allocation, by itself or with its whole node. */
  cordoned: boolean;
  cordonedBy: 'gpu' | 'node' | null;
  nodeId: string;
  hostname: string;
  clusterName: string;
  owner: { kind: 'deployment' | 'job'; id: string; name: string } | null;
  live: GpuLivePoint | null;
  /** How long it has been below 5 % utilization without a break (null when busy or silent). */
  idleForMs: number | null;
};

export async function listGpus(db: Db, catalog: FleetCatalog, telemetry: LiveTelemetry): Promise<GpuView[]> {
  const jobs = new Map(
    (await db.job.findMany({ select: { id: true, name: true } })).map((j) => [j.id, j.name]),
  );
  const now = Date.now();
  const views: GpuView[] = [];
  for (const gpu of catalog.gpus.values()) {
    const node = catalog.nodes.get(gpu.nodeId);
    const owner = catalog.owners.get(gpu.id);
    const live = telemetry.gpuPoint(gpu.id);
    const cordonedBy = gpu.cordoned ? 'gpu' : node?.cordoned ? 'node' : null;
    views.push({
      id: gpu.id,
      uuid: gpu.uuid,
      index: gpu.index,
      modelName: gpu.modelName,
      memoryTotalMiB: gpu.memoryTotalMiB,
      health: gpu.health,
      cordoned: cordonedBy !== null,
      cordonedBy,
      nodeId: gpu.nodeId,
      hostname: node?.hostname ?? '?',
      clusterName: node?.clusterName ?? '?',
      owner: owner?.deploymentId
        ? {
            kind: 'deployment',
            id: owner.deploymentId,
            name: catalog.deployments.get(owner.deploymentId)?.name ?? '?',
          }
        : owner?.jobId
          ? { kind: 'job', id: owner.jobId, name: jobs.get(owner.jobId) ?? '?' }
          : null,
      live: live && now - live.at < 5_000 ? stripAt(live) : null,
      idleForMs: telemetry.idleFor(gpu.id, now),
    });
  }
  return views.sort((a, b) => a.hostname.localeCompare(b.hostname) || a.index - b.index);
}

function stripAt(point: GpuLivePoint & { at: number }): GpuLivePoint {
  const { at: _at, ...rest } = point;
  return rest;
}

export async function getGpu(db: Db, catalog: FleetCatalog, telemetry: LiveTelemetry, gpuId: string) {
  const gpu = (await listGpus(db, catalog, telemetry)).find((g) => g.id === gpuId);
  if (!gpu) throw new AppError('NOT_FOUND', `No GPU with id ${gpuId}`);
  return gpu;
}

export async function listNodes(db: Db, catalog: FleetCatalog, telemetry: LiveTelemetry) {
  const nodes = await db.node.findMany({
    include: { cluster: { select: { name: true } } },
    orderBy: [{ cluster: { name: 'asc' } }, { hostname: 'asc' }],
  });
  const gpus = await listGpus(db, catalog, telemetry);
  return nodes.map((n) => {
    const nodeGpus = gpus.filter((g) => g.nodeId === n.id);
    const utils = nodeGpus.map((g) => g.live?.util).filter((u): u is number => u !== undefined);
    return {
      id: n.id,
      hostname: n.hostname,
      clusterName: n.cluster.name,
      status: catalog.nodes.get(n.id)?.status ?? n.status,
      cordoned: catalog.nodes.get(n.id)?.cordoned ?? n.cordoned,
      agentVersion: n.agentVersion,
      lastHeartbeatAt: n.lastHeartbeatAt?.toISOString() ?? null,
      labels: n.labels as Record<string, string>,
      gpuCount: nodeGpus.length,
      meanUtilizationPct: utils.length > 0 ? utils.reduce((s, u) => s + u, 0) / utils.length : null,
      gpus: nodeGpus,
    };
  });
}

export async function getNode(db: Db, catalog: FleetCatalog, telemetry: LiveTelemetry, nodeId: string) {
  const node = (await listNodes(db, catalog, telemetry)).find((n) => n.id === nodeId);
  if (!node) throw new AppError('NOT_FOUND', `No node with id ${nodeId}`);
  return node;
}

export async function listDeployments(db: Db, catalog: FleetCatalog, telemetry: LiveTelemetry) {
  const deployments = await db.deployment.findMany({
    include: { model: true },
    orderBy: { priority: 'desc' },
  });
  const counts = catalog.gpuCountByDeployment();
  return deployments.map((d) => {
    const live = telemetry.latencyPoint(d.id);
    return {
      id: d.id,
      name: d.name,
      modelName: d.model.name,
      gpusPerReplica: d.gpusPerReplica,
      gpus: counts.get(d.id) ?? 0,
      replicas: Math.floor((counts.get(d.id) ?? 0) / d.gpusPerReplica),
      minGpus: d.minGpus,
      maxGpus: d.maxGpus,
      priority: d.priority,
      sloP95Ms: d.sloP95Ms,
      version: d.version,
      live,
      withinSlo: live.p95 === null ? null : live.p95 <= d.sloP95Ms,
    };
  });
}

export async function getDeployment(
  db: Db,
  catalog: FleetCatalog,
  telemetry: LiveTelemetry,
  deploymentId: string,
) {
  const deployment = (await listDeployments(db, catalog, telemetry)).find((d) => d.id === deploymentId);
  if (!deployment) throw new AppError('NOT_FOUND', `No deployment with id ${deploymentId}`);
  const gpus = (await listGpus(db, catalog, telemetry)).filter(
    (g) => g.owner?.kind === 'deployment' && g.owner.id === deploymentId,
  );
  return { ...deployment, gpuList: gpus };
}

export type LatencyHistoryPoint = {
  at: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  requestsPerSecond: number;
  errorsPerSecond: number;
  queueDepth: number;
};

/**
 * A deployment's latency over a window from stored rollups. Each point's percentiles come
 * from its buckets' sketches merged; the window's own percentiles from all of them merged
 * (never from averaging percentiles).
 */
export async function latencyHistory(db: Db, deploymentId: string, window: HistoryWindow, now = Date.now()) {
  const resolutionS = WINDOW_RESOLUTION_S[window];
  const rows = await db.deploymentRollup.findMany({
    where: { deploymentId, resolutionS, bucketStart: { gte: new Date(now - WINDOW_MS[window]) } },
    orderBy: { bucketStart: 'asc' },
  });
  const perPoint = Math.max(1, Math.ceil(rows.length / MAX_POINTS));
  const whole = new LatencyDistribution();
  const points: LatencyHistoryPoint[] = [];
  for (let i = 0; i < rows.length; i += perPoint) {
    const group = rows.slice(i, i + perPoint);
    const merged = new LatencyDistribution();
    let requests = 0;
    let errors = 0;
    let queue = 0;
    for (const row of group) {
      merged.merge(LatencyDistribution.fromBytes(row.latencySketch));
      requests += row.requests;
      errors += row.errors;
      queue += row.queueDepthMean;
    }
    whole.merge(merged);
    const seconds = group.length * resolutionS;
    points.push({
      at: group[0]!.bucketStart.getTime(),
      p50: merged.quantile(0.5),
      p95: merged.quantile(0.95),
      p99: merged.quantile(0.99),
      requestsPerSecond: requests / seconds,
      errorsPerSecond: errors / seconds,
      queueDepth: queue / group.length,
    });
  }
  return {
    window,
    resolutionS: resolutionS * perPoint,
    points,
    summary: {
      p50: whole.quantile(0.5),
      p95: whole.quantile(0.95),
      p99: whole.quantile(0.99),
      requests: whole.count,
    },
  };
}

export type GpuHistoryPoint = {
  at: number;
  utilMin: number;
  utilMean: number;
  utilMax: number;
  memUsedMiB: number;
  powerW: number;
  temperatureC: number;
  smClockMHz: number;
};

/** A GPU's metrics over a window from stored rollups (sample-weighted when merged). */
export async function gpuHistory(db: Db, gpuId: string, window: HistoryWindow, now = Date.now()) {
  const resolutionS = WINDOW_RESOLUTION_S[window];
  const rows = await db.gpuRollup.findMany({
    where: { gpuId, resolutionS, bucketStart: { gte: new Date(now - WINDOW_MS[window]) } },
    orderBy: { bucketStart: 'asc' },
  });
  const perPoint = Math.max(1, Math.ceil(rows.length / MAX_POINTS));
  const points: GpuHistoryPoint[] = [];
  for (let i = 0; i < rows.length; i += perPoint) {
    const group = rows.slice(i, i + perPoint);
    const samples = group.reduce((s, r) => s + r.samples, 0) || 1;
    const weighted = (pick: (r: (typeof group)[number]) => number) =>
      group.reduce((s, r) => s + pick(r) * r.samples, 0) / samples;
    points.push({
      at: group[0]!.bucketStart.getTime(),
      utilMin: Math.min(...group.map((r) => r.utilMin)),
      utilMean: weighted((r) => r.utilMean),
      utilMax: Math.max(...group.map((r) => r.utilMax)),
      memUsedMiB: weighted((r) => r.memUsedMean),
      powerW: weighted((r) => r.powerMean),
      temperatureC: weighted((r) => r.tempMean),
      smClockMHz: weighted((r) => r.smClockMean),
    });
  }
  return { window, resolutionS: resolutionS * perPoint, points };
}

/**
 * Allocated GPUs doing nothing: idle (< 5 %) for 5 minutes or more now, and the idle
 * GPU-hours the currently allocated GPUs spent over the last 24 h (10 s rollups whose
 * peak stayed under 5 %).
 */
export async function idleAllocatedGpus(db: Db, catalog: FleetCatalog, telemetry: LiveTelemetry) {
  const gpus = (await listGpus(db, catalog, telemetry)).filter(
    (g) => g.owner !== null && g.idleForMs !== null && g.idleForMs >= IDLE_ALLOCATED_AFTER_MS,
  );
  const allocated = [...catalog.owners.keys()];
  const [row] = await db.$queryRawUnsafe<{ seconds: number | null }[]>(
    `SELECT sum(10)::float8 AS seconds FROM "GpuRollup"
     WHERE "resolutionS" = 10 AND "bucketStart" >= $1 AND "utilMax" < $2 AND "gpuId" = ANY($3::text[])`,
    new Date(Date.now() - 24 * 3600_000),
    IDLE_UTILIZATION_PCT,
    allocated,
  );
  return {
    gpus: gpus.map((g) => ({ ...g, idleGpuHours: g.idleForMs! / 3600_000 })),
    idleGpuHours24h: (row?.seconds ?? 0) / 3600,
  };
}
