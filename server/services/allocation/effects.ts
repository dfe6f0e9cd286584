import type { DeploymentEffect, PlannerDeployment } from '../../../lib/allocation/types';

/** Predicts a deployment's p95 with `replicasAfter` replicas from its live load. */
export type P95Predictor = (
  deployment: PlannerDeployment,
  replicasBefore: number,
  replicasAfter: number,
) => number | null;

/** The predicted effect of new GPU counts on each deployment whose count changes. */
export function predictEffects(
  counts: Map<string, { before: number; after: number }>,
  deployments: Map<string, PlannerDeployment>,
  predict: P95Predictor,
): DeploymentEffect[] {
  const effects: DeploymentEffect[] = [];
  for (const [id, { before, after }] of counts) {
    const deployment = deployments.get(id);
    if (!deployment || before === after) continue;
    const k = Math.max(1, deployment.gpusPerReplica);
    const replicasBefore = Math.floor(before / k);
    const replicasAfter = Math.floor(after / k);
    effects.push({
      deploymentId: id,
      name: deployment.name,
      sloP95Ms: deployment.sloP95Ms,
      gpusBefore: before,
      gpusAfter: after,
      replicasBefore,
      replicasAfter,
      p95BeforeMs: deployment.p95Ms,
      p95PredictedMs: predict(deployment, replicasBefore, replicasAfter),
    });
  }
  return effects.sort((a, b) => a.name.localeCompare(b.name));
}
