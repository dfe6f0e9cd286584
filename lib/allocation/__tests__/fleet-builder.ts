import type { OwnerRef, PlannerDeployment, PlannerGpu, PlannerInput } from '../types';

/**
 * Small planner inputs written as pictures: `{ a: ['chat', 'chat', null, 'job:train', 'x!'] }`
 * is node `a` with GPUs a/0…a/4 held by deployment `chat`, free, held by job `train`, and
 * held by `x` but not eligible (a trailing `!`, also on `null!` for a free ineligible GPU).
 */
export type NodePicture = Record<string, (string | null)[]>;

export type DeploymentSpec = Partial<PlannerDeployment> & { id: string };

export function deployment(spec: DeploymentSpec): PlannerDeployment {
  return {
    name: spec.id,
    priority: 50,
    minGpus: 0,
    maxGpus: 64,
    gpusPerReplica: 1,
    sloP95Ms: 1000,
    version: 1,
    p95Ms: 400,
    requestsPerSecond: 10,
    utilizationPct: 40,
    ...spec,
  };
}

export function fleet(nodes: NodePicture, deployments: DeploymentSpec[]): PlannerInput {
  const gpus: PlannerGpu[] = [];
  const jobs = new Map<string, { id: string; name: string; version: number }>();
  const utilization = new Map(deployments.map((d) => [d.id, d.utilizationPct ?? 40]));
  for (const [nodeId, owners] of Object.entries(nodes)) {
    owners.forEach((cell, index) => {
      const raw = cell ?? '';
      const eligible = !raw.endsWith('!');
      const name = raw.replace(/!$/, '').replace(/^null$/, '');
      const jobId = name.startsWith('job:') ? name.slice(4) : null;
      if (jobId && !jobs.has(jobId)) jobs.set(jobId, { id: jobId, name: jobId, version: 7 });
      const deploymentId = name && !jobId ? name : null;
      gpus.push({
        id: `${nodeId}-${index}`,
        nodeId,
        label: `${nodeId}/${index}`,
        deploymentId,
        jobId,
        eligible,
        utilizationPct: deploymentId ? (utilization.get(deploymentId) ?? null) : jobId ? 95 : 0,
      });
    });
  }
  return { gpus, deployments: deployments.map(deployment), jobs: [...jobs.values()] };
}

export function ownerName(owner: OwnerRef | undefined): string | null {
  if (!owner) return null;
  return 'deploymentId' in owner ? owner.deploymentId : `job:${owner.jobId}`;
}

/** GPUs per node held by each deployment, e.g. `{ chat: { a: 4, b: 4 } }`. */
export function holdings(input: PlannerInput): Record<string, Record<string, number>> {
  const result: Record<string, Record<string, number>> = {};
  for (const gpu of input.gpus) {
    if (!gpu.deploymentId) continue;
    const perNode = result[gpu.deploymentId] ?? {};
    perNode[gpu.nodeId] = (perNode[gpu.nodeId] ?? 0) + 1;
    result[gpu.deploymentId] = perNode;
  }
  return result;
}

export function totalGpus(input: PlannerInput, deploymentId: string): number {
  return input.gpus.filter((gpu) => gpu.deploymentId === deploymentId).length;
}
