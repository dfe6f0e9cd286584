import { fitLatency, type LatencyFit, predictedRho, predictFromFit } from './latency-model';
import type { PlannerDeployment, PlannerGpu } from './types';

/**
 * The rules both the planner and its objective (planCost) judge a deployment's replica
 * count by, so the planner's choices and the quality measure agree on what "enough" is.
 */
export type AllocationPolicy = {
  /** Grow a deployment until its predicted p95 is at most this share of its SLO. */
  targetSloShare: number;
  /** A replica may go (to another deployment or the free pool) only if p95 stays under this share. */
  spareSloShare: number;
  /** …and each remaining replica stays at most this busy, when another deployment needs it. */
  donorMaxRho: number;
  /** …or at most this busy, when the replica would only return to the free pool. */
  releaseMaxRho: number;
  /** Mean utilization under which a deployment counts as idle (and gives first). */
  idleUtilizationPct: number;
};

export const DEFAULT_POLICY: AllocationPolicy = {
  targetSloShare: 0.85,
  spareSloShare: 0.7,
  donorMaxRho: 0.75,
  releaseMaxRho: 0.5,
  idleUtilizationPct: 10,
};

/** A deployment as the policy sees it: its fitted latency model and GPU bounds. */
export type DeploymentModel = {
  deployment: PlannerDeployment;
  fit: LatencyFit;
  /** GPUs per replica, at least 1. */
  k: number;
  idle: boolean;
};

export function modelDeployment(
  deployment: PlannerDeployment,
  replicasNow: number,
  policy: AllocationPolicy,
): DeploymentModel {
  const fit = fitLatency({
    p95Ms: deployment.p95Ms,
    requestsPerSecond: deployment.requestsPerSecond,
    utilizationPct: deployment.utilizationPct,
    replicas: replicasNow,
    sloP95Ms: deployment.sloP95Ms,
  });
  const idle =
    fit.kind === 'idle' ||
    (deployment.utilizationPct !== null && deployment.utilizationPct < policy.idleUtilizationPct);
  return { deployment, fit, k: Math.max(1, Math.floor(deployment.gpusPerReplica)), idle };
}

/**
 * May the deployment run `replicasAfter` replicas on `gpusAfter` GPUs, having given the
 * rest away? Never below its minimum; never when its latency cannot be predicted; and only
 * while p95 stays well within the SLO and replicas keep spare capacity.
 */
export function canShrinkTo(
  model: DeploymentModel,
  replicasAfter: number,
  gpusAfter: number,
  maxRho: number,
  policy: AllocationPolicy,
): boolean {
  const { deployment, fit } = model;
  if (gpusAfter < deployment.minGpus || replicasAfter < 0) return false;
  if (fit.kind === 'idle') return true;
  if (fit.kind === 'unknown' || replicasAfter < 1) return false;
  const p95 = predictFromFit(fit, replicasAfter);
  const rho = predictedRho(fit, replicasAfter);
  return p95 !== null && rho !== null && p95 <= policy.spareSloShare * deployment.sloP95Ms && rho <= maxRho;
}

/**
 * Replicas the deployment should run: the fewest that bring predicted p95 to the target
 * share of its SLO, never above its maximum; when no count reaches it, the fewest within 2 %
 * of the best achievable, since GPUs beyond that buy nothing. Never under its minimum.
 */
export function targetReplicas(
  model: DeploymentModel,
  replicasNow: number,
  policy: AllocationPolicy,
): number {
  const { deployment, fit, k } = model;
  const minReplicas = Math.ceil(deployment.minGpus / k);
  const maxReplicas = Math.max(minReplicas, Math.floor(deployment.maxGpus / k));
  if (fit.kind === 'idle' || fit.kind === 'unknown') return Math.max(replicasNow, minReplicas);
  const goal = policy.targetSloShare * deployment.sloP95Ms;
  const from = Math.max(1, replicasNow);
  for (let r = from; r <= maxReplicas; r++) {
    const p95 = predictFromFit(fit, r);
    if (p95 !== null && p95 <= goal) return Math.max(r, replicasNow, minReplicas);
  }
  const best = predictFromFit(fit, maxReplicas) ?? 0;
  for (let r = from; r <= maxReplicas; r++) {
    const p95 = predictFromFit(fit, r);
    if (p95 !== null && p95 <= best * 1.02) return Math.max(r, replicasNow, minReplicas);
  }
  return Math.max(maxReplicas, replicasNow, minReplicas);
}

/**
 * Whether a deployment needs more GPUs than it has: under its minimum, over its SLO, or
 * within it but without the target headroom (the next rise in load would break it).
 */
export function needsGpus(
  model: DeploymentModel,
  gpusNow: number,
  replicasNow: number,
  policy: AllocationPolicy,
): 'under-min' | 'over-slo' | 'at-risk' | null {
  const { deployment, fit } = model;
  if (gpusNow < deployment.minGpus) return 'under-min';
  if (fit.kind !== 'queue' && fit.kind !== 'scaled') return null;
  if (deployment.p95Ms !== null && deployment.p95Ms > deployment.sloP95Ms) return 'over-slo';
  const p95 = predictFromFit(fit, replicasNow);
  if (p95 !== null && p95 > policy.targetSloShare * deployment.sloP95Ms) return 'at-risk';
  return null;
}

/** A GPU may change owner only when eligible and not held by a job (training is not preemptible). */
export function isMovable(gpu: PlannerGpu): boolean {
  return gpu.eligible && gpu.jobId === null;
}
