import type { AllocationChangeView } from '../../../lib/allocation/types';
import type { Db } from '../../db/client';
import type { FleetCatalog } from '../fleet/catalog';
import type { LiveTelemetry } from '../telemetry/live-telemetry';
import { toView } from './changes';
import { catalogRuleGpu, ineligibility } from './rules';

export type BoardDeployment = {
  id: string;
  name: string;
  version: number;
  priority: number;
  minGpus: number;
  maxGpus: number;
  gpusPerReplica: number;
  sloP95Ms: number;
  /** Over the last 30 s (RECENT_WINDOW_MS), like the planner's input. */
  p95Ms: number | null;
  requestsPerSecond: number;
};
export type BoardJob = { id: string; name: string; version: number; state: string };
export type BoardGpu = {
  id: string;
  label: string;
  nodeId: string;
  hostname: string;
  clusterName: string;
  health: 'ok' | 'degraded' | 'failed';
  cordoned: boolean;
  /** May receive a new owner: healthy, not cordoned, node not cordoned and not offline. */
  eligible: boolean;
  deploymentId: string | null;
  jobId: string | null;
  utilizationPct: number | null;
  /** A change still being applied holds this GPU. */
  busyChangeId: string | null;
};
export type AllocationBoard = {
  deployments: BoardDeployment[];
  jobs: BoardJob[];
  gpus: BoardGpu[];
  /** In-flight changes and the most recent ones, newest first. */
  changes: AllocationChangeView[];
};

const RECENT_CHANGES = 20;

/** Everything the allocation board shows, with the versions a change must be based on. */
export async function allocationBoard(
  db: Db,
  catalog: FleetCatalog,
  telemetry: LiveTelemetry,
): Promise<AllocationBoard> {
  const [deployments, jobs, allocations, inFlight, recent] = await Promise.all([
    db.deployment.findMany({ orderBy: [{ priority: 'desc' }, { name: 'asc' }] }),
    db.job.findMany({
      where: { state: { in: ['queued', 'running'] } },
      orderBy: { name: 'asc' },
      select: { id: true, name: true, version: true, state: true },
    }),
    // Owners from the database, not the catalog: the versions below must match them.
    db.allocation.findMany({ select: { gpuId: true, deploymentId: true, jobId: true } }),
    db.allocationChange.findMany({
      where: { state: { in: ['pending', 'applying'] } },
      include: { moves: true },
      orderBy: { createdAt: 'desc' },
    }),
    db.allocationChange.findMany({
      where: { state: { in: ['applied', 'rolled_back'] } },
      include: { moves: true },
      orderBy: { createdAt: 'desc' },
      take: RECENT_CHANGES,
    }),
  ]);
  const owners = new Map(allocations.map((a) => [a.gpuId, a]));
  const busy = new Map<string, string>();
  for (const change of inFlight) for (const move of change.moves) busy.set(move.gpuId, change.id);

  const now = Date.now();
  const gpus: BoardGpu[] = [...catalog.gpus.values()].map((gpu) => {
    const node = catalog.nodes.get(gpu.nodeId)!;
    const owner = owners.get(gpu.id);
    return {
      id: gpu.id,
      label: `${node.hostname}/${gpu.index}`,
      nodeId: gpu.nodeId,
      hostname: node.hostname,
      clusterName: node.clusterName,
      health: gpu.health,
      cordoned: gpu.cordoned,
      eligible: ineligibility(catalogRuleGpu(gpu, node)) === null,
      deploymentId: owner?.deploymentId ?? null,
      jobId: owner?.jobId ?? null,
      utilizationPct: telemetry.gpuPoint(gpu.id)?.util ?? null,
      busyChangeId: busy.get(gpu.id) ?? null,
    };
  });

  return {
    deployments: deployments.map((d) => {
      // The planner's window, so the board and the plan agree on who is over its SLO.
      const recent = telemetry.recentLoad(d.id, now);
      return {
        id: d.id,
        name: d.name,
        version: d.version,
        priority: d.priority,
        minGpus: d.minGpus,
        maxGpus: d.maxGpus,
        gpusPerReplica: d.gpusPerReplica,
        sloP95Ms: d.sloP95Ms,
        p95Ms: recent.p95Ms,
        requestsPerSecond: recent.requestsPerSecond,
      };
    }),
    jobs,
    gpus,
    changes: [...inFlight, ...recent].map((change) => toView(change, catalog)),
  };
}
