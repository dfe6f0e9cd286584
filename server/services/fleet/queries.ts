import { LatencyDistribution } from '../../../lib/latency-histogram';
import type { GpuLivePoint } from '../../../lib/protocol/live';
import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import type { LiveTelemetry } from '../telemetry/live-telemetry';
import type { FleetCatalog } from './catalog';

/** Read models for the fleet views and the API. Live figures come from memory, the rest from Postgres. */

export type GpuView = {
  id: string;
  uuid: string;
  index: number;
  modelName: string;
  memoryTotalMiB: number;
  health: 'ok' | 'degraded' | 'failed';
  cordoned: boolean;
  nodeId: string;
  hostname: string;
  clusterName: string;
  owner: { kind: 'deployment' | 'job'; id: string; name: string } | null;
  live: GpuLivePoint | null;
};

export async function listGpus(db: Db, catalog: FleetCatalog, telemetry: LiveTelemetry): Promise<GpuView[]> {
  const jobs = new Map(
    (await db.job.findMany({ select: { id: true, name: true } })).map((j) => [j.id, j.name]),
  );
  const views: GpuView[] = [];
  for (const gpu of catalog.gpus.values()) {
    const node = catalog.nodes.get(gpu.nodeId);
    const owner = catalog.owners.get(gpu.id);
    const live = telemetry.gpuPoint(gpu.id);
    views.push({
      id: gpu.id,
      uuid: gpu.uuid,
      index: gpu.index,
      modelName: gpu.modelName,
      memoryTotalMiB: gpu.memoryTotalMiB,
      health: gpu.health,
      cordoned: gpu.cordoned,
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
      live: live && Date.now() - live.at < 5_000 ? stripAt(live) : null,
    });
  }
  return views.sort((a, b) => a.hostname.localeCompare(b.hostname) || a.index - b.index);
}

function stripAt(point: GpuLivePoint & { at: number }): GpuLivePoint {
  const { at: _at, ...rest } = point;
  return rest;
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
      cordoned: n.cordoned,
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

export type LatencyHistoryPoint = {
  at: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  requestsPerSecond: number;
};

/**
 * Latency over a window from the stored 10 s rollups: each point's percentiles come from
 * that bucket's sketch; the window's own percentiles from all of them merged.
 */
export async function latencyHistory(db: Db, deploymentId: string, windowMs: number) {
  const rows = await db.deploymentRollup.findMany({
    where: { deploymentId, resolutionS: 10, bucketStart: { gte: new Date(Date.now() - windowMs) } },
    orderBy: { bucketStart: 'asc' },
  });
  const window = new LatencyDistribution();
  const points: LatencyHistoryPoint[] = rows.map((row) => {
    const bucket = LatencyDistribution.fromBytes(row.latencySketch);
    window.merge(bucket);
    return {
      at: row.bucketStart.getTime(),
      p50: bucket.quantile(0.5),
      p95: bucket.quantile(0.95),
      p99: bucket.quantile(0.99),
      requestsPerSecond: row.requests / row.resolutionS,
    };
  });
  return {
    points,
    window: {
      p50: window.quantile(0.5),
      p95: window.quantile(0.95),
      p99: window.quantile(0.99),
      requests: window.count,
    },
  };
}
