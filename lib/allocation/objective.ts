import { predictFromFit } from './latency-model';
import {
  type AllocationPolicy,
  canShrinkTo,
  DEFAULT_POLICY,
  type DeploymentModel,
  isMovable,
  modelDeployment,
} from './policy';
import type { OwnerRef, Plan, PlannerInput } from './types';

/**
 * How good a final assignment is (lower is better), to compare the planner with the best
 * assignment an exhaustive search finds. Per deployment, weighted by priority: predicted
 * p95 over the target share of its SLO, and far more over the SLO itself. Plus a small cost
 * per GPU a deployment holds but could spare, per GPU moved, and per new pair of one
 * deployment's replicas sharing a node; and a prohibitive cost per broken rule (min/max
 * GPUs, a replica split across nodes, a job's or an ineligible GPU changing owner, a
 * deployment giving up GPUs it cannot spare).
 */
export const OBJECTIVE_WEIGHTS = {
  /** Per unit of p95/SLO over 1, on top of the target term. */
  overSlo: 10,
  /** Per spare GPU a deployment holds (one it could release under the policy). */
  spareGpu: 0.05,
  /** Per GPU that changes owner. */
  move: 0.001,
  /** Per new pair of a deployment's replicas on one node: spreading is worth two extra moves. */
  sharedNode: 0.002,
  /** Per broken rule: more than any gain in latency could be worth (see priorityWeight). */
  violation: 1e12,
} as const;

/**
 * Priority weight: 20 points of priority make a deployment's latency ten times as
 * important, so a higher priority nearly always comes first, as the planner serves it.
 * Priorities count between 0 and 120, which keeps every latency term far below a
 * broken rule's cost.
 */
export function priorityWeight(priority: number): number {
  return 10 ** (Math.max(0, Math.min(120, priority)) / 20);
}

/** SLO and spare-GPU cost of one deployment running `replicas` replicas on `gpus` GPUs. */
export function deploymentCost(
  model: DeploymentModel,
  replicas: number,
  gpus: number,
  policy: AllocationPolicy = DEFAULT_POLICY,
): number {
  const { deployment, fit, k } = model;
  let cost = 0;
  // Without traffic no replica count changes latency; with traffic and no replica, the model
  // predicts an overload.
  const p95 = fit.kind === 'idle' ? null : predictFromFit(fit, replicas);
  const ratio = p95 === null ? 0 : p95 / deployment.sloP95Ms;
  cost +=
    priorityWeight(deployment.priority) *
    (OBJECTIVE_WEIGHTS.overSlo * Math.max(0, ratio - 1) + Math.max(0, ratio - policy.targetSloShare));
  let spare = 0;
  while (
    spare < replicas &&
    canShrinkTo(model, replicas - spare - 1, gpus - (spare + 1) * k, policy.releaseMaxRho, policy)
  ) {
    spare += 1;
  }
  cost += OBJECTIVE_WEIGHTS.spareGpu * spare * k;
  if (gpus < deployment.minGpus) cost += OBJECTIVE_WEIGHTS.violation;
  if (gpus > deployment.maxGpus) cost += OBJECTIVE_WEIGHTS.violation;
  return cost;
}

/**
 * A deployment that gives GPUs up must keep its p95 well within its SLO and spare capacity
 * in every replica (the policy's hysteresis, so it does not ask for them back at the next
 * rise in load); otherwise that is a broken rule.
 */
export function shrinkPenalty(
  model: DeploymentModel,
  replicas: number,
  gpus: number,
  policy: AllocationPolicy = DEFAULT_POLICY,
): number {
  return canShrinkTo(model, replicas, gpus, policy.donorMaxRho, policy) ? 0 : OBJECTIVE_WEIGHTS.violation;
}

/** Cost of the pairs of one deployment's replicas on a node that were not there before. */
export function sharedNodeCost(replicasBefore: number, replicasAfter: number): number {
  const pairs = (r: number) => (r * (r - 1)) / 2;
  return OBJECTIVE_WEIGHTS.sharedNode * Math.max(0, pairs(replicasAfter) - pairs(replicasBefore));
}

/** Owner of every GPU after the plan's moves, keyed by GPU id. */
export function finalOwners(input: PlannerInput, plan: Plan): Map<string, OwnerRef> {
  const owners = new Map<string, OwnerRef>();
  for (const gpu of input.gpus) {
    owners.set(
      gpu.id,
      gpu.jobId !== null
        ? { jobId: gpu.jobId }
        : gpu.deploymentId !== null
          ? { deploymentId: gpu.deploymentId }
          : null,
    );
  }
  for (const step of plan.steps) for (const move of step.moves) owners.set(move.gpuId, move.to);
  return owners;
}

/** The input as it would read after the plan (telemetry unchanged). */
export function applyPlanToInput(input: PlannerInput, plan: Plan): PlannerInput {
  const owners = finalOwners(input, plan);
  return {
    ...input,
    gpus: input.gpus.map((gpu) => {
      const owner = owners.get(gpu.id) ?? null;
      return {
        ...gpu,
        deploymentId: owner && 'deploymentId' in owner ? owner.deploymentId : null,
        jobId: owner && 'jobId' in owner ? owner.jobId : null,
      };
    }),
  };
}

function sameOwner(a: OwnerRef, b: OwnerRef): boolean {
  if (a === null || b === null) return a === b;
  if ('deploymentId' in a) return 'deploymentId' in b && a.deploymentId === b.deploymentId;
  return 'jobId' in b && a.jobId === b.jobId;
}

/** The objective for `owners` (GPU id → owner; GPUs not named keep their owner). */
export function planCost(
  input: PlannerInput,
  owners: Map<string, OwnerRef>,
  policy: AllocationPolicy = DEFAULT_POLICY,
): number {
  let cost = 0;
  const k = new Map(input.deployments.map((d) => [d.id, Math.max(1, Math.floor(d.gpusPerReplica))]));
  /** `${deploymentId}\n${nodeId}` → GPUs, before and after. */
  const before = new Map<string, number>();
  const after = new Map<string, number>();
  const count = (into: Map<string, number>, owner: OwnerRef, nodeId: string) => {
    if (owner && 'deploymentId' in owner && k.has(owner.deploymentId)) {
      const key = `${owner.deploymentId}\n${nodeId}`;
      into.set(key, (into.get(key) ?? 0) + 1);
    }
  };
  for (const gpu of input.gpus) {
    const initial: OwnerRef =
      gpu.jobId !== null
        ? { jobId: gpu.jobId }
        : gpu.deploymentId !== null
          ? { deploymentId: gpu.deploymentId }
          : null;
    const final = owners.has(gpu.id) ? (owners.get(gpu.id) ?? null) : initial;
    count(before, initial, gpu.nodeId);
    count(after, final, gpu.nodeId);
    if (!sameOwner(initial, final)) {
      cost += OBJECTIVE_WEIGHTS.move;
      if (!isMovable(gpu) || (final !== null && 'jobId' in final)) cost += OBJECTIVE_WEIGHTS.violation;
    }
  }
  const totals = (counts: Map<string, number>, perReplica: boolean) => {
    const sums = new Map<string, number>();
    for (const [key, n] of counts) {
      const id = key.slice(0, key.indexOf('\n'));
      sums.set(id, (sums.get(id) ?? 0) + (perReplica ? Math.floor(n / k.get(id)!) : n));
    }
    return sums;
  };
  // A replica split across nodes is a broken rule, unless the input already had it so.
  for (const [key, n] of after) {
    const kd = k.get(key.slice(0, key.indexOf('\n')))!;
    if (n % kd !== 0 && before.get(key) !== n) cost += OBJECTIVE_WEIGHTS.violation;
    cost += sharedNodeCost(Math.floor((before.get(key) ?? 0) / kd), Math.floor(n / kd));
  }
  const replicasBefore = totals(before, true);
  const replicasAfter = totals(after, true);
  const gpusAfter = totals(after, false);
  const gpusBefore = totals(before, false);
  for (const deployment of input.deployments) {
    const model = modelDeployment(deployment, replicasBefore.get(deployment.id) ?? 0, policy);
    const replicas = replicasAfter.get(deployment.id) ?? 0;
    const gpus = gpusAfter.get(deployment.id) ?? 0;
    cost += deploymentCost(model, replicas, gpus, policy);
    if (gpus < (gpusBefore.get(deployment.id) ?? 0)) cost += shrinkPenalty(model, replicas, gpus, policy);
  }
  return cost;
}
