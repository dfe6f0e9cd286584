import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SATURATED_UTILIZATION_PCT } from '../latency-model';
import { OBJECTIVE_WEIGHTS } from '../objective';
import { finalOwners, planAllocations, planCost } from '../planner';
import { canShrinkTo, DEFAULT_POLICY, modelDeployment } from '../policy';
import type { PlannerDeployment, PlannerGpu, PlannerInput } from '../types';
import { ownerName } from './fleet-builder';

const arbDeployment = fc.record({
  k: fc.constantFrom(1, 2, 4),
  priority: fc.integer({ min: 0, max: 100 }),
  sloP95Ms: fc.constantFrom(60, 300, 1200),
  minReplicas: fc.integer({ min: 0, max: 2 }),
  extraMaxReplicas: fc.integer({ min: 0, max: 4 }),
  rho: fc.double({ min: 0.005, max: 0.99, noNaN: true }),
  p95ShareOfSlo: fc.double({ min: 0.2, max: 4, noNaN: true }),
  rpsPerReplica: fc.double({ min: 0.5, max: 200, noNaN: true }),
  utilizationKnown: fc.boolean(),
  silent: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  version: fc.nat(50),
});

const arbFleet = fc.record({
  nodes: fc.integer({ min: 1, max: 4 }),
  gpusPerNode: fc.constantFrom(4, 8),
  deployments: fc.array(arbDeployment, { minLength: 1, maxLength: 5 }),
  /** (deployment, node) of each replica to place, in order, where it fits. */
  replicas: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 16 }),
  jobGpus: fc.array(fc.nat(), { maxLength: 6 }),
  ineligibleGpus: fc.array(fc.nat(), { maxLength: 4 }),
});

type FleetSpec = typeof arbFleet extends fc.Arbitrary<infer T> ? T : never;

/** A fleet that keeps every rule: whole replicas on each node, min ≤ GPUs ≤ max. */
function build(spec: FleetSpec): PlannerInput {
  const gpus: PlannerGpu[] = [];
  for (let n = 0; n < spec.nodes; n++) {
    for (let i = 0; i < spec.gpusPerNode; i++) {
      gpus.push({
        id: `g${n}-${i}`,
        nodeId: `n${n}`,
        label: `n${n}/${i}`,
        deploymentId: null,
        jobId: null,
        eligible: true,
        utilizationPct: 0,
      });
    }
  }
  for (const g of spec.jobGpus) gpus[g % gpus.length]!.jobId = 'train';
  const held = spec.deployments.map(() => 0);
  for (const [d, n] of spec.replicas) {
    const index = d % spec.deployments.length;
    const k = spec.deployments[index]!.k;
    const free = gpus.filter((g) => g.nodeId === `n${n % spec.nodes}` && !g.jobId && !g.deploymentId);
    if (free.length < k) continue;
    for (const gpu of free.slice(0, k)) gpu.deploymentId = `d${index}`;
    held[index]! += k;
  }
  for (const g of spec.ineligibleGpus) gpus[g % gpus.length]!.eligible = false;
  const deployments: PlannerDeployment[] = spec.deployments.map((d, i) => {
    const replicas = held[i]! / d.k;
    const serving = replicas > 0 && !d.silent;
    return {
      id: `d${i}`,
      name: `model-${i}`,
      priority: d.priority,
      minGpus: Math.min(d.minReplicas, replicas) * d.k,
      maxGpus: (replicas + d.extraMaxReplicas) * d.k,
      gpusPerReplica: d.k,
      sloP95Ms: d.sloP95Ms,
      version: d.version,
      p95Ms: serving ? d.p95ShareOfSlo * d.sloP95Ms : null,
      requestsPerSecond: serving ? d.rpsPerReplica * replicas : 0,
      utilizationPct: serving && d.utilizationKnown ? d.rho * SATURATED_UTILIZATION_PCT : null,
    };
  });
  for (const gpu of gpus) {
    const owner = deployments.find((d) => d.id === gpu.deploymentId);
    gpu.utilizationPct = owner ? owner.utilizationPct : gpu.jobId ? 95 : 0;
  }
  return {
    gpus,
    deployments,
    jobs: gpus.some((g) => g.jobId) ? [{ id: 'train', name: 'train', version: 3 }] : [],
  };
}

function countsPerNode(input: PlannerInput, owners: Map<string, string | null>) {
  const counts = new Map<string, Map<string, number>>();
  for (const gpu of input.gpus) {
    const owner = owners.get(gpu.id);
    if (!owner || owner.startsWith('job:')) continue;
    const perNode = counts.get(owner) ?? new Map<string, number>();
    perNode.set(gpu.nodeId, (perNode.get(gpu.nodeId) ?? 0) + 1);
    counts.set(owner, perNode);
  }
  return counts;
}

describe('planAllocations on random small fleets', () => {
  it('keeps every rule', () => {
    fc.assert(
      fc.property(arbFleet, (spec) => {
        const input = build(spec);
        const plan = planAllocations(input);
        const byId = new Map(input.gpus.map((g) => [g.id, g]));
        const deployments = new Map(input.deployments.map((d) => [d.id, d]));
        const before = new Map(input.gpus.map((g) => [g.id, g.jobId ? `job:${g.jobId}` : g.deploymentId]));

        // No GPU moves twice; every move starts from the owner the input gave it.
        const moved = plan.steps.flatMap((s) => s.moves.map((m) => m.gpuId));
        expect(new Set(moved).size).toBe(moved.length);
        const touched = new Set<string>();
        for (const step of plan.steps) {
          const k = deployments.get(step.deploymentId)!.gpusPerReplica;
          for (const move of step.moves) {
            const gpu = byId.get(move.gpuId)!;
            expect(ownerName(move.from ?? undefined)).toBe(before.get(move.gpuId) ?? null);
            expect(ownerName(move.to ?? undefined)).not.toBe(ownerName(move.from ?? undefined));
            // Jobs' GPUs and ineligible GPUs never change owner; no GPU goes to a job.
            expect(gpu.jobId).toBeNull();
            expect(gpu.eligible).toBe(true);
            expect(move.to === null || 'deploymentId' in move.to).toBe(true);
            expect(move.nodeId).toBe(gpu.nodeId);
            for (const owner of [move.from, move.to])
              if (owner && 'deploymentId' in owner) touched.add(owner.deploymentId);
          }
          if (step.kind === 'grow') {
            // One whole replica (or the rest of one), on one node.
            const gained = step.moves.filter((m) => ownerName(m.to) === step.deploymentId);
            expect(new Set(gained.map((m) => m.nodeId)).size).toBe(1);
            expect(gained.length).toBeGreaterThan(0);
            expect(gained.length).toBeLessThanOrEqual(k);
          } else {
            expect(step.moves).toHaveLength(k);
            expect(step.moves.every((m) => ownerName(m.from) === step.deploymentId && m.to === null)).toBe(
              true,
            );
            expect(new Set(step.moves.map((m) => m.nodeId)).size).toBe(1);
          }
        }

        const after = new Map(
          [...finalOwners(input, plan)].map(([id, owner]) => [id, ownerName(owner ?? undefined)]),
        );
        const countsBefore = countsPerNode(input, before);
        const countsAfter = countsPerNode(input, after);
        for (const d of input.deployments) {
          const perNode = countsAfter.get(d.id) ?? new Map<string, number>();
          for (const [nodeId, count] of perNode)
            expect(count % d.gpusPerReplica, `${d.id} on ${nodeId}`).toBe(0);
          const total = [...perNode.values()].reduce((a, b) => a + b, 0);
          const totalBefore = [...(countsBefore.get(d.id)?.values() ?? [])].reduce((a, b) => a + b, 0);
          expect(total).toBeGreaterThanOrEqual(Math.min(d.minGpus, totalBefore));
          expect(total).toBeLessThanOrEqual(Math.max(d.maxGpus, totalBefore));
          if (total < totalBefore) {
            // Only what it can spare: p95 stays well within its SLO.
            const model = modelDeployment(d, totalBefore / d.gpusPerReplica, DEFAULT_POLICY);
            expect(
              canShrinkTo(model, total / d.gpusPerReplica, total, DEFAULT_POLICY.donorMaxRho, DEFAULT_POLICY),
            ).toBe(true);
          }
        }
        expect(planCost(input, finalOwners(input, plan))).toBeLessThan(OBJECTIVE_WEIGHTS.violation);

        // Versions and effects name exactly the deployments the moves touch.
        expect(Object.keys(plan.baseVersions).sort()).toEqual([...touched].sort());
        for (const id of touched) expect(plan.baseVersions[id]).toBe(deployments.get(id)!.version);
        expect(plan.effects.map((e) => e.deploymentId).sort()).toEqual([...touched].sort());

        // Deterministic.
        expect({ ...planAllocations(input), computedMs: 0 }).toEqual({ ...plan, computedMs: 0 });
      }),
      { numRuns: 400, seed: 20261129 },
    );
  });
});
