import { describe, expect, it } from 'vitest';
import { predictP95Ms } from '../latency-model';
import { OBJECTIVE_WEIGHTS } from '../objective';
import { applyPlanToInput, finalOwners, planAllocations, planCost } from '../planner';
import type { Plan, PlannerDeployment } from '../types';
import { type DeploymentSpec, fleet, holdings, ownerName, totalGpus } from './fleet-builder';

/**
 * Telemetry of a deployment in a given condition (SLO 1,000 ms unless the spec says
 * otherwise). A breaking deployment has slow replicas (capacity ~4 requests/s), so it
 * needs several more before its p95 comes under the SLO.
 */
function load(
  condition: 'breaking' | 'busy' | 'comfortable' | 'idle',
  sloP95Ms = 1000,
): Partial<PlannerDeployment> {
  switch (condition) {
    case 'breaking':
      return { sloP95Ms, p95Ms: 3 * sloP95Ms, utilizationPct: 88, requestsPerSecond: 4 };
    case 'busy':
      return { sloP95Ms, p95Ms: 0.8 * sloP95Ms, utilizationPct: 78, requestsPerSecond: 40 };
    case 'comfortable':
      return { sloP95Ms, p95Ms: 0.45 * sloP95Ms, utilizationPct: 41, requestsPerSecond: 40 };
    case 'idle':
      return { sloP95Ms, p95Ms: 0.3 * sloP95Ms, utilizationPct: 1, requestsPerSecond: 40 };
  }
}

function spec(
  id: string,
  condition: Parameters<typeof load>[0],
  rest: Partial<PlannerDeployment> = {},
): DeploymentSpec {
  return { id, ...load(condition, rest.sloP95Ms), ...rest };
}

const grows = (plan: Plan, deploymentId?: string) =>
  plan.steps.filter((s) => s.kind === 'grow' && (!deploymentId || s.deploymentId === deploymentId));
const reclaims = (plan: Plan) => plan.steps.filter((s) => s.kind === 'reclaim');
const stepNode = (step: Plan['steps'][number]) => {
  const nodes = new Set(step.moves.filter((m) => ownerName(m.to) === step.deploymentId).map((m) => m.nodeId));
  expect(nodes.size).toBe(1);
  return [...nodes][0];
};

describe('planAllocations', () => {
  it('gives a breaking deployment whole replicas, each on one node, from free GPUs first', () => {
    const input = fleet(
      {
        a: ['chat', 'chat', 'chat', 'chat', null, null, null, null],
        b: [null, null, null, 'other', 'other', 'other', 'other', 'other'],
        c: [null, null, null, null, null, null, null, null],
      },
      [spec('chat', 'breaking', { gpusPerReplica: 4, maxGpus: 12 }), spec('other', 'busy')],
    );
    const plan = planAllocations(input);
    const chatSteps = grows(plan, 'chat');
    expect(chatSteps).toHaveLength(2);
    for (const step of chatSteps) {
      expect(step.moves).toHaveLength(4);
      expect(step.moves.every((m) => m.from === null && ownerName(m.to) === 'chat')).toBe(true);
      expect(step.reason).toMatch(
        /^chat p95 3,000 ms over its 1,000 ms SLO: \+4 GPUs from the free pool on [ac]/,
      );
    }
    // Node b has three free GPUs: never a place for a 4-GPU replica.
    expect(chatSteps.map(stepNode)).toEqual(['c', 'a']);
    expect(holdings(applyPlanToInput(input, plan)).chat).toEqual({ a: 8, c: 4 });
  });

  it("spreads a deployment's replicas over the nodes where it runs fewest", () => {
    const input = fleet(
      {
        a: ['chat', 'chat', 'chat', 'chat', null, null, null, null],
        b: [null, null, null, null, null, null, null, null],
        c: [null, null, null, null, null, null, null, null],
      },
      [spec('chat', 'breaking', { gpusPerReplica: 4, maxGpus: 16 })],
    );
    const plan = planAllocations(input);
    expect(grows(plan).map(stepNode)).toEqual(['b', 'c', 'a']);
  });

  it('stops at the maximum, and at the replica count that meets the SLO with headroom', () => {
    const capped = fleet({ a: ['chat', null, null, null, null, null, null, null] }, [
      spec('chat', 'breaking', { maxGpus: 3 }),
    ]);
    expect(totalGpus(applyPlanToInput(capped, planAllocations(capped)), 'chat')).toBe(3);

    // The fewest replicas that bring predicted p95 to 85 % of the SLO.
    const chat = { id: 'chat', p95Ms: 1500, utilizationPct: 0.8 * 92, requestsPerSecond: 8 };
    const modest = fleet({ a: ['chat', null, null, null, null, null, null, null] }, [chat]);
    const [effect] = planAllocations(modest).effects;
    const load = { ...chat, sloP95Ms: 1000, replicas: 1 };
    expect(effect).toEqual(
      expect.objectContaining({ deploymentId: 'chat', gpusBefore: 1, replicasBefore: 1 }),
    );
    expect(effect!.p95PredictedMs).toBe(predictP95Ms(load, effect!.replicasAfter));
    expect(effect!.p95PredictedMs!).toBeLessThanOrEqual(850);
    expect(predictP95Ms(load, effect!.replicasAfter - 1)!).toBeGreaterThan(850);
  });

  it('takes replicas an idle deployment would give back anyway, then returns its other spare ones', () => {
    const input = fleet(
      {
        a: ['chat', 'chat', 'chat', 'chat', 'embed', 'embed', 'embed', 'embed'],
        b: ['embed', 'embed', 'embed', 'embed', 'rerank', 'rerank', 'rerank', 'rerank'],
        c: ['vision', 'vision', 'vision', 'vision', 'vision', 'vision', 'vision', 'vision'],
      },
      [
        spec('chat', 'breaking', { gpusPerReplica: 4, maxGpus: 8, priority: 100 }),
        spec('embed', 'idle', { minGpus: 2, priority: 40, sloP95Ms: 60 }),
        spec('rerank', 'comfortable', { priority: 10 }),
        spec('vision', 'busy', { gpusPerReplica: 2, priority: 5 }),
      ],
    );
    const plan = planAllocations(input);
    const [grow] = grows(plan);
    expect(grow!.reason).toMatch(
      /^chat p95 3,000 ms over its 1,000 ms SLO: \+4 GPUs from embed, idle 99 % on b \(replica 2, p95 predicted [\d,]+ ms\)$/,
    );
    expect(stepNode(grow!)).toBe('b');
    expect(grow!.moves.every((m) => ownerName(m.from) === 'embed')).toBe(true);
    // embed keeps its minimum; the rest goes back to the pool one replica per step.
    const after = applyPlanToInput(input, plan);
    expect(totalGpus(after, 'embed')).toBe(2);
    expect(reclaims(plan)).toHaveLength(2);
    expect(reclaims(plan)[0]!.reason).toBe(
      'embed idle 99 %: release 1 GPU on a to the free pool (p95 predicted 18 ms, SLO 60 ms)',
    );
    // Busy vision has no headroom and comfortable rerank was not needed: untouched.
    expect(totalGpus(after, 'vision')).toBe(8);
    expect(totalGpus(after, 'rerank')).toBe(4);
    expect(Object.keys(plan.baseVersions).sort()).toEqual(['chat', 'embed']);
  });

  it('takes from lower priority deployments with headroom first, never from those without', () => {
    const input = fleet(
      {
        a: ['low', 'low', 'low', 'low', 'mid', 'mid', 'mid', 'mid'],
        b: ['tight', 'tight', 'tight', 'tight', 'chat', 'chat', null, null],
      },
      [
        spec('chat', 'breaking', { gpusPerReplica: 2, maxGpus: 6, priority: 90 }),
        // Two replicas each at ρ 0.3: either can spare one (ρ 0.6 after), neither is idle.
        spec('low', 'comfortable', { gpusPerReplica: 2, priority: 10, utilizationPct: 0.3 * 92 }),
        spec('mid', 'comfortable', { gpusPerReplica: 2, priority: 20, utilizationPct: 0.3 * 92 }),
        spec('tight', 'busy', { priority: 0 }),
      ],
    );
    const plan = planAllocations(input);
    const steps = grows(plan, 'chat');
    // The free pair on b first, then two of low's replicas on a; mid and tight keep theirs.
    expect(steps.map((s) => s.moves.map((m) => ownerName(m.from)))).toEqual([
      [null, null],
      ['low', 'low'],
    ]);
    expect(steps[1]!.reason).toContain('from low on a');
    const after = applyPlanToInput(input, plan);
    expect(totalGpus(after, 'mid')).toBe(4);
    expect(totalGpus(after, 'tight')).toBe(4);
  });

  it('serves the higher priority first when GPUs are short', () => {
    const input = fleet(
      {
        a: ['first', 'first', 'first', 'first', null, null, null, null],
        b: ['second', 'second', 'second', 'second', 'job:train', 'job:train', 'job:train', 'job:train'],
      },
      [
        spec('second', 'breaking', { gpusPerReplica: 4, priority: 60 }),
        spec('first', 'breaking', { gpusPerReplica: 4, priority: 70 }),
      ],
    );
    const plan = planAllocations(input);
    expect(plan.steps.map((s) => s.deploymentId)).toEqual(['first']);
  });

  it("breaks no deployment's SLO to help another and moves nothing when nothing helps", () => {
    const input = fleet({ a: ['chat', 'chat', 'busy', 'busy'] }, [
      spec('chat', 'breaking', { gpusPerReplica: 2, priority: 100 }),
      spec('busy', 'busy', { gpusPerReplica: 2, priority: 0 }),
    ]);
    const plan = planAllocations(input);
    expect(plan.steps).toEqual([]);
    expect(plan.effects).toEqual([]);
    expect(plan.baseVersions).toEqual({});
  });

  it("never moves a job's GPUs or an ineligible GPU, nor gives one an owner", () => {
    const input = fleet(
      {
        a: ['job:train', 'job:train', 'job:train', 'job:train', 'null!', 'null!', null, null],
        b: ['chat', 'chat', 'idle!', 'idle!', 'idle', 'idle', 'idle', 'idle'],
      },
      [spec('chat', 'breaking', { gpusPerReplica: 2, priority: 100 }), spec('idle', 'idle', { priority: 0 })],
    );
    const plan = planAllocations(input);
    const touched = new Set(plan.steps.flatMap((s) => s.moves.map((m) => m.gpuId)));
    for (const gpu of input.gpus) {
      if (gpu.jobId || !gpu.eligible) expect(touched.has(gpu.id), gpu.label).toBe(false);
    }
    expect(plan.steps.length).toBeGreaterThan(0);
    expect(Object.keys(plan.baseVersions)).not.toContain('train');
  });

  it('grows a deployment under its minimum even without telemetry', () => {
    const input = fleet({ a: [null, null, null, null] }, [
      { id: 'fresh', minGpus: 2, gpusPerReplica: 2, p95Ms: null, requestsPerSecond: 0, utilizationPct: null },
    ]);
    const plan = planAllocations(input);
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0]!.reason).toBe(
      'fresh holds 0 GPUs, under its minimum of 2: +2 GPUs from the free pool on a (replica 1)',
    );
  });

  it('returns idle replicas to the pool from the nodes where the deployment runs most', () => {
    const input = fleet(
      {
        a: ['embed', 'embed', 'embed', 'embed', 'embed', 'embed', null, null],
        b: ['embed', 'embed', 'embed', 'embed', 'embed', 'embed', 'embed', 'embed'],
      },
      [spec('embed', 'idle', { minGpus: 2, sloP95Ms: 60, version: 4 })],
    );
    const plan = planAllocations(input);
    expect(plan.steps).toHaveLength(12);
    expect(
      plan.steps.every((s) => s.kind === 'reclaim' && s.moves.length === 1 && s.moves[0]!.to === null),
    ).toBe(true);
    expect(plan.steps.slice(0, 3).map((s) => s.moves[0]!.nodeId)).toEqual(['b', 'b', 'a']);
    expect(holdings(applyPlanToInput(input, plan)).embed).toEqual({ a: 1, b: 1 });
    expect(plan.baseVersions).toEqual({ embed: 4 });
    expect(plan.effects).toEqual([
      {
        deploymentId: 'embed',
        name: 'embed',
        sloP95Ms: 60,
        gpusBefore: 14,
        gpusAfter: 2,
        replicasBefore: 14,
        replicasAfter: 2,
        p95BeforeMs: 18,
        p95PredictedMs: expect.closeTo(18.2, 1),
      },
    ]);
  });

  it("moves another deployment's replica to make room when free GPUs are scattered", () => {
    const input = fleet(
      {
        a: ['small', 'small', null, null],
        b: ['chat', 'chat', 'chat', 'chat'],
        c: [null, null, 'busy', 'busy'],
      },
      [
        spec('chat', 'breaking', { gpusPerReplica: 4, maxGpus: 8 }),
        spec('small', 'busy', { gpusPerReplica: 2 }),
        spec('busy', 'busy', { gpusPerReplica: 2 }),
      ],
    );
    const plan = planAllocations(input);
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0]!.reason).toContain('+4 GPUs on a, moving a small replica to c');
    expect(holdings(applyPlanToInput(input, plan))).toEqual({
      chat: { a: 4, b: 4 },
      small: { c: 2 },
      busy: { c: 2 },
    });
    expect(plan.steps[0]!.moves).toHaveLength(6);
  });

  it('plans the same for the same input', () => {
    const input = fleet(
      {
        a: ['chat', 'chat', 'chat', 'chat', 'embed', 'embed', 'embed', 'embed'],
        b: ['embed', 'embed', null, null, 'rerank', 'rerank', 'rerank', 'rerank'],
        c: [null, null, null, null, 'job:t', 'job:t', 'job:t', 'job:t'],
      },
      [
        spec('chat', 'breaking', { gpusPerReplica: 4 }),
        spec('embed', 'idle', { minGpus: 1 }),
        spec('rerank', 'comfortable'),
      ],
    );
    const strip = (plan: Plan) => ({ ...plan, computedMs: 0 });
    const first = strip(planAllocations(input));
    expect(strip(planAllocations(structuredClone(input)))).toEqual(first);
    expect(first.steps.map((s) => s.id)).toEqual(first.steps.map((_, i) => `step-${i + 1}`));
  });

  it('never moves a GPU twice, and leaves a cost with no broken rule', () => {
    const input = fleet(
      {
        a: ['big', 'big', 'big', 'big', 'big', 'big', 'big', 'big'],
        b: ['chat', 'chat', 'chat', 'chat', null, null, null, null],
      },
      [
        spec('chat', 'breaking', { gpusPerReplica: 2, priority: 90 }),
        spec('big', 'idle', { gpusPerReplica: 8, minGpus: 0, requestsPerSecond: 0, p95Ms: null }),
      ],
    );
    const plan = planAllocations(input);
    const ids = plan.steps.flatMap((s) => s.moves.map((m) => m.gpuId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(planCost(input, finalOwners(input, plan))).toBeLessThan(OBJECTIVE_WEIGHTS.violation);
  });
});
