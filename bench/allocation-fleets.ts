import { SATURATED_UTILIZATION_PCT } from '../lib/allocation/latency-model';
import {
  deploymentCost,
  OBJECTIVE_WEIGHTS,
  sharedNodeCost,
  shrinkPenalty,
} from '../lib/allocation/objective';
import { DEFAULT_POLICY, modelDeployment } from '../lib/allocation/policy';
import type { PlannerDeployment, PlannerGpu, PlannerInput } from '../lib/allocation/types';
import { mulberry32, type Rng } from '../workers/agent/sources/simulator/random';

/**
 * Synthetic fleets for the planner benchmark: a large one with a realistic mix, for
 * planning time, and small ones an exhaustive search can solve, for plan quality.
 */

function pick<T>(rng: Rng, weighted: [T, number][]): T {
  const total = weighted.reduce((sum, [, w]) => sum + w, 0);
  let u = rng() * total;
  for (const [value, w] of weighted) {
    u -= w;
    if (u < 0) return value;
  }
  return weighted[weighted.length - 1]![0];
}

function int(rng: Rng, low: number, high: number): number {
  return low + Math.floor(rng() * (high - low + 1));
}

/**
 * Telemetry of a deployment in a given condition, drawn so that p95, load and utilization
 * are consistent with a queue of that busy fraction.
 */
function telemetry(
  rng: Rng,
  sloP95Ms: number,
  replicas: number,
  condition: 'idle' | 'comfortable' | 'busy' | 'breaking',
): Pick<PlannerDeployment, 'p95Ms' | 'requestsPerSecond' | 'utilizationPct'> {
  const rho =
    condition === 'idle'
      ? 0.01 + 0.05 * rng()
      : condition === 'comfortable'
        ? 0.2 + 0.3 * rng()
        : condition === 'busy'
          ? 0.55 + 0.25 * rng()
          : 0.9 + 0.08 * rng();
  const capacityRps = 5 + 200 * rng();
  const meanServiceMs = sloP95Ms * (0.2 + 0.3 * rng());
  const waitMs = rho <= 0.05 ? 0 : (Math.log(rho / 0.05) / (capacityRps * (1 - rho))) * 1000;
  const excess = 0.5 * meanServiceMs;
  const p95Ms = meanServiceMs + Math.sqrt(waitMs * waitMs + excess * excess);
  return {
    p95Ms: condition === 'breaking' ? Math.max(p95Ms, sloP95Ms * (1.05 + rng())) : p95Ms,
    requestsPerSecond: rho * capacityRps * replicas,
    utilizationPct: Math.min(100, rho * SATURATED_UTILIZATION_PCT * (0.97 + 0.06 * rng())),
  };
}

/**
 * About `gpuCount` GPUs on 8-GPU nodes and `deploymentCount` deployments: 1, 2, 4 and
 * 8-GPU replicas, 15 % of nodes held whole by training jobs, 1 % of GPUs ineligible, a
 * few percent free; a sixth of deployments over their SLO, a quarter idle.
 */
export function largeFleet(gpuCount: number, deploymentCount: number, seed = 1): PlannerInput {
  const rng = mulberry32(seed);
  const nodeCount = Math.ceil(gpuCount / 8);
  const gpus: PlannerGpu[] = [];
  const freeOnNode: number[][] = [];
  for (let n = 0; n < nodeCount; n++) {
    const nodeId = `node-${String(n).padStart(5, '0')}`;
    const free: number[] = [];
    for (let i = 0; i < 8; i++) {
      free.push(gpus.length);
      gpus.push({
        id: `${nodeId}-gpu-${i}`,
        nodeId,
        label: `${nodeId}/${i}`,
        deploymentId: null,
        jobId: null,
        eligible: rng() >= 0.01,
        utilizationPct: 1,
      });
    }
    freeOnNode.push(free);
  }
  const jobs: PlannerInput['jobs'] = [];
  for (let n = 0; n < nodeCount; n++) {
    if (rng() >= 0.15) continue;
    const job = { id: `job-${jobs.length}`, name: `train-${jobs.length}`, version: 1 };
    jobs.push(job);
    for (const g of freeOnNode[n]!.splice(0)) {
      gpus[g]!.jobId = job.id;
      gpus[g]!.utilizationPct = 90;
    }
  }

  const open = () => freeOnNode.reduce((sum, free) => sum + free.length, 0);
  const target = Math.floor(open() * 0.95);
  const deployments: PlannerDeployment[] = [];
  let placed = 0;
  for (let d = 0; d < deploymentCount; d++) {
    const k = pick(rng, [
      [1, 50],
      [2, 30],
      [4, 15],
      [8, 5],
    ]);
    const sloP95Ms = pick(rng, [
      [60, 2],
      [200, 3],
      [800, 3],
      [1500, 2],
    ]);
    const condition = pick(rng, [
      ['idle', 25],
      ['comfortable', 35],
      ['busy', 23],
      ['breaking', 17],
    ] as const);
    // Share of the GPUs still open this deployment may take, so the fleet fills evenly.
    const budget = Math.max(k, Math.round(((target - placed) / (deploymentCount - d)) * (0.5 + rng())));
    const wanted = Math.max(1, Math.floor(budget / k));
    const id = `dep-${String(d).padStart(4, '0')}`;
    let replicas = 0;
    for (let r = 0; r < wanted; r++) {
      const start = int(rng, 0, nodeCount - 1);
      let node = -1;
      for (let step = 0; step < nodeCount; step++) {
        const n = (start + step) % nodeCount;
        if (freeOnNode[n]!.filter((g) => gpus[g]!.eligible).length >= k) {
          node = n;
          break;
        }
      }
      if (node < 0) break;
      const free = freeOnNode[node]!;
      for (let i = 0; i < k; i++) {
        const at = free.findIndex((g) => gpus[g]!.eligible);
        const [g] = free.splice(at, 1);
        gpus[g!]!.deploymentId = id;
      }
      replicas += 1;
      placed += k;
    }
    const minGpus = k * int(rng, 0, Math.max(0, Math.min(2, replicas)));
    const maxGpus = k * Math.max(replicas, 1) * int(rng, 2, 4);
    const load = telemetry(rng, sloP95Ms, Math.max(1, replicas), condition);
    deployments.push({
      id,
      name: `model-${d}`,
      priority: int(rng, 0, 10) * 10,
      minGpus,
      maxGpus,
      gpusPerReplica: k,
      sloP95Ms,
      version: int(rng, 0, 20),
      ...load,
    });
    for (const gpu of gpus) if (gpu.deploymentId === id) gpu.utilizationPct = load.utilizationPct;
  }
  return { gpus, deployments, jobs };
}

export type SmallShape = { nodes: number; gpusPerNode: number; deployments: number };

/** A small random fleet whose initial owners keep replicas whole. */
export function smallFleet(shape: SmallShape, seed: number): PlannerInput {
  const rng = mulberry32(seed);
  const gpus: PlannerGpu[] = [];
  const free: number[][] = [];
  for (let n = 0; n < shape.nodes; n++) {
    free.push([]);
    for (let i = 0; i < shape.gpusPerNode; i++) {
      free[n]!.push(gpus.length);
      gpus.push({
        id: `n${n}g${i}`,
        nodeId: `n${n}`,
        label: `n${n}/${i}`,
        deploymentId: null,
        jobId: null,
        eligible: rng() >= 0.08,
        utilizationPct: null,
      });
    }
  }
  const jobs: PlannerInput['jobs'] = [];
  if (rng() < 0.3) {
    jobs.push({ id: 'job-0', name: 'train-0', version: 3 });
    const n = int(rng, 0, shape.nodes - 1);
    for (const g of free[n]!.splice(0, int(rng, 1, shape.gpusPerNode / 2))) gpus[g]!.jobId = 'job-0';
  }
  const deployments: PlannerDeployment[] = [];
  for (let d = 0; d < shape.deployments; d++) {
    const k = pick(rng, [
      [1, 3],
      [2, 2],
      [4, shape.gpusPerNode >= 4 ? 1 : 0],
    ]);
    const id = `d${d}`;
    let replicas = 0;
    const wanted = int(
      rng,
      0,
      Math.max(1, Math.floor((shape.nodes * shape.gpusPerNode) / (shape.deployments * k))),
    );
    for (let r = 0; r < wanted; r++) {
      const roomy = free.flatMap((f, i) => (f.length >= k ? [i] : []));
      if (roomy.length === 0) break;
      const n = roomy[int(rng, 0, roomy.length - 1)]!;
      for (const g of free[n]!.splice(0, k)) gpus[g]!.deploymentId = id;
      replicas += 1;
    }
    const sloP95Ms = pick(rng, [
      [100, 1],
      [500, 1],
      [1000, 1],
    ]);
    const condition = pick(rng, [
      ['idle', 2],
      ['comfortable', 2],
      ['busy', 1],
      ['breaking', 3],
    ] as const);
    const load =
      replicas > 0
        ? telemetry(rng, sloP95Ms, replicas, condition)
        : { p95Ms: null, requestsPerSecond: 0, utilizationPct: null };
    const minGpus = k * int(rng, 0, Math.min(1, replicas));
    deployments.push({
      id,
      name: `model-${d}`,
      priority: int(rng, 1, 5) * 20,
      minGpus,
      maxGpus: Math.max(minGpus, k * int(rng, Math.max(1, replicas), replicas + 3)),
      gpusPerReplica: k,
      sloP95Ms,
      version: d + 1,
      ...load,
    });
  }
  for (const gpu of gpus) {
    const owner = deployments.find((d) => d.id === gpu.deploymentId);
    gpu.utilizationPct = owner ? owner.utilizationPct : gpu.jobId ? 95 : 1;
  }
  return { gpus, deployments, jobs };
}

/**
 * The lowest objective over every final assignment that keeps the rules (jobs' and
 * ineligible GPUs stay; each deployment holds whole replicas on every node). The objective
 * depends on how many GPUs each deployment holds per node, not on which, so the search
 * runs over per-node counts (nodes in id order); moves per node are the fewest that reach
 * those counts.
 */
export function exhaustiveBest(input: PlannerInput): { cost: number; countsPerNode: number[][] } {
  const deployments = input.deployments;
  const k = deployments.map((d) => Math.max(1, Math.floor(d.gpusPerReplica)));
  const index = new Map(deployments.map((d, i) => [d.id, i]));
  const nodeIds = [...new Set(input.gpus.map((g) => g.nodeId))].sort();
  const replicasBefore = deployments.map(() => 0);
  const heldBefore = deployments.map(() => 0);
  type NodeOption = { counts: number[]; moves: number; spread: number };
  const optionsPerNode: NodeOption[][] = nodeIds.map((nodeId) => {
    const onNode = input.gpus.filter((g) => g.nodeId === nodeId);
    const fixed = deployments.map(() => 0);
    const movableFrom = deployments.map(() => 0);
    let movableFree = 0;
    let movable = 0;
    for (const gpu of onNode) {
      const owner = gpu.deploymentId === null ? -1 : (index.get(gpu.deploymentId) ?? -2);
      const canMove = gpu.eligible && gpu.jobId === null && owner !== -2;
      if (gpu.jobId !== null || owner === -2) continue;
      if (!canMove) {
        if (owner >= 0) fixed[owner]! += 1;
        continue;
      }
      movable += 1;
      if (owner >= 0) movableFrom[owner]! += 1;
      else movableFree += 1;
    }
    deployments.forEach((_, d) => {
      replicasBefore[d]! += Math.floor((fixed[d]! + movableFrom[d]!) / k[d]!);
      heldBefore[d]! += fixed[d]! + movableFrom[d]!;
    });
    const options: NodeOption[] = [];
    const counts = deployments.map(() => 0);
    const recurse = (d: number, left: number) => {
      if (d === deployments.length) {
        let kept = Math.min(movableFree, left);
        deployments.forEach((_, i) => {
          kept += Math.min(movableFrom[i]!, counts[i]!);
        });
        let spread = 0;
        deployments.forEach((_, i) => {
          const before = Math.floor((fixed[i]! + movableFrom[i]!) / k[i]!);
          spread += sharedNodeCost(before, Math.floor((fixed[i]! + counts[i]!) / k[i]!));
        });
        options.push({ counts: counts.map((c, i) => c + fixed[i]!), moves: movable - kept, spread });
        return;
      }
      for (let c = 0; c <= left; c++) {
        const total = fixed[d]! + c;
        const unchanged = c === movableFrom[d]!;
        if (total % k[d]! !== 0 && !unchanged) continue;
        counts[d] = c;
        recurse(d + 1, left - c);
      }
      counts[d] = 0;
    };
    recurse(0, movable);
    return options;
  });

  const models = deployments.map((d, i) => modelDeployment(d, replicasBefore[i]!, DEFAULT_POLICY));
  const memo = new Map<string, number>();
  const costOf = (d: number, replicas: number, held: number) => {
    const key = `${d}/${replicas}/${held}`;
    let cost = memo.get(key);
    if (cost === undefined) {
      cost = deploymentCost(models[d]!, replicas, held, DEFAULT_POLICY);
      if (held < heldBefore[d]!) cost += shrinkPenalty(models[d]!, replicas, held, DEFAULT_POLICY);
      memo.set(key, cost);
    }
    return cost;
  };

  let best = Number.POSITIVE_INFINITY;
  let bestCounts: number[][] = [];
  const chosen: number[][] = [];
  const held = deployments.map(() => 0);
  const replicas = deployments.map(() => 0);
  const walk = (n: number, moves: number, spread: number) => {
    if (n === optionsPerNode.length) {
      let cost = moves * OBJECTIVE_WEIGHTS.move + spread;
      for (let d = 0; d < deployments.length; d++) cost += costOf(d, replicas[d]!, held[d]!);
      if (cost < best) {
        best = cost;
        bestCounts = chosen.map((counts) => [...counts]);
      }
      return;
    }
    for (const option of optionsPerNode[n]!) {
      option.counts.forEach((c, d) => {
        held[d]! += c;
        replicas[d]! += Math.floor(c / k[d]!);
      });
      chosen[n] = option.counts;
      walk(n + 1, moves + option.moves, spread + option.spread);
      option.counts.forEach((c, d) => {
        held[d]! -= c;
        replicas[d]! -= Math.floor(c / k[d]!);
      });
    }
  };
  walk(0, 0, 0);
  return { cost: best, countsPerNode: bestCounts };
}
