import type { PlannerDeployment, PlannerGpu, PlannerInput } from '../../../lib/allocation/types';
import type { Runtime } from '../../runtime';
import { catalogRuleGpu, ineligibility } from './rules';

/**
 * What the planner plans from: owners, bounds and versions from the database (so the
 * versions match the owners read with them, as a change will check), health and
 * hostnames from the catalog, load from live telemetry over the recent window (30 s), so
 * one noisy second does not move GPUs.
 *
 * A GPU is eligible for a new owner when it is healthy and not cordoned, its node is not
 * cordoned or offline, and no change still being applied holds it.
 */
export async function buildPlannerInput(
  runtime: Pick<Runtime, 'db' | 'catalog' | 'telemetry'>,
  now = Date.now(),
): Promise<PlannerInput> {
  const { db, catalog, telemetry } = runtime;
  const [deployments, jobs, allocations, inFlight] = await Promise.all([
    db.deployment.findMany({
      select: {
        id: true,
        name: true,
        priority: true,
        minGpus: true,
        maxGpus: true,
        gpusPerReplica: true,
        sloP95Ms: true,
        version: true,
      },
      orderBy: { name: 'asc' },
    }),
    db.job.findMany({ select: { id: true, name: true, version: true }, orderBy: { name: 'asc' } }),
    db.allocation.findMany({ select: { gpuId: true, deploymentId: true, jobId: true } }),
    db.allocationMove.findMany({
      where: { change: { state: { in: ['pending', 'applying'] } } },
      select: { gpuId: true },
    }),
  ]);
  const owners = new Map(allocations.map((a) => [a.gpuId, a]));
  const busy = new Set(inFlight.map((move) => move.gpuId));

  const gpus: PlannerGpu[] = [];
  for (const gpu of catalog.gpus.values()) {
    const node = catalog.nodes.get(gpu.nodeId);
    if (!node) continue;
    const owner = owners.get(gpu.id);
    gpus.push({
      id: gpu.id,
      nodeId: gpu.nodeId,
      label: `${node.hostname}/${gpu.index}`,
      deploymentId: owner?.deploymentId ?? null,
      jobId: owner?.jobId ?? null,
      eligible: ineligibility(catalogRuleGpu(gpu, node)) === null && !busy.has(gpu.id),
      utilizationPct: telemetry.smoothedUtilization(gpu.id, now),
    });
  }

  const utilization = new Map<string, { sum: number; count: number }>();
  for (const gpu of gpus) {
    if (!gpu.deploymentId || gpu.utilizationPct === null) continue;
    const entry = utilization.get(gpu.deploymentId) ?? { sum: 0, count: 0 };
    entry.sum += gpu.utilizationPct;
    entry.count += 1;
    utilization.set(gpu.deploymentId, entry);
  }

  return {
    gpus,
    deployments: deployments.map((d): PlannerDeployment => {
      const recent = telemetry.recentLoad(d.id, now);
      const util = utilization.get(d.id);
      return {
        ...d,
        p95Ms: recent.p95Ms,
        requestsPerSecond: recent.requestsPerSecond,
        utilizationPct: util ? util.sum / util.count : null,
      };
    }),
    jobs,
  };
}
