// Planner benchmark: planning time on a 10,000-GPU fleet, plan quality against exhaustive
// search on small fleets, and the effect of a plan on the simulated demo fleet.
import { applyPlanToInput, finalOwners, planAllocations, planCost } from '../lib/allocation/planner';
import type { Plan } from '../lib/allocation/types';
import { DEMO_DEPLOYMENTS } from '../lib/demo-fleet';
import {
  type DemoObservation,
  type DemoOwners,
  demoPlannerInput,
  ownersOf,
  seededDemoOwners,
  simulateDemoFleet,
} from './allocation-demo';
import { exhaustiveBest, largeFleet, type SmallShape, smallFleet } from './allocation-fleets';

const LARGE = { gpus: 10_000, deployments: 1_000, warmups: 3, runs: 15, targetMs: 200 };
const SMALL_SHAPES: SmallShape[] = [
  { nodes: 2, gpusPerNode: 4, deployments: 3 },
  { nodes: 3, gpusPerNode: 4, deployments: 3 },
  { nodes: 2, gpusPerNode: 8, deployments: 4 },
];
const SMALL_INSTANCES_PER_SHAPE = 100;
/** Simulated seconds: a warm-up, then one full period of the simulator's load wave. */
const DEMO = { startS: 1_800_000_000, warmupS: 60, measureS: 300 };

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const fmt = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const moveCount = (plan: Plan) => plan.steps.reduce((sum, step) => sum + step.moves.length, 0);

function planningTime(log: (line: string) => void): void {
  const input = largeFleet(LARGE.gpus, LARGE.deployments);
  let plan = planAllocations(input);
  for (let i = 1; i < LARGE.warmups; i++) plan = planAllocations(input);
  const times: number[] = [];
  for (let i = 0; i < LARGE.runs; i++) {
    const started = performance.now();
    plan = planAllocations(input);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const grown = new Set(plan.steps.filter((s) => s.kind === 'grow').map((s) => s.deploymentId)).size;
  const released = new Set(plan.steps.filter((s) => s.kind === 'reclaim').map((s) => s.deploymentId)).size;
  const median = quantile(times, 0.5);
  const p95 = quantile(times, 0.95);
  log('');
  log(`### Planning time (${fmt(input.gpus.length)} GPUs, ${fmt(input.deployments.length)} deployments)`);
  log('');
  log('| runs | median | p95 | target | steps | GPU moves | deployments grown | deployments releasing |');
  log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  log(
    `| ${LARGE.runs} | ${fmt(median, 1)} ms | ${fmt(p95, 1)} ms | < ${LARGE.targetMs} ms ${p95 < LARGE.targetMs ? '✓' : '✗'} | ${fmt(plan.steps.length)} | ${fmt(moveCount(plan))} | ${grown} | ${released} |`,
  );
}

function planQuality(log: (line: string) => void): void {
  log('');
  log('### Plan quality against exhaustive search (same objective, planCost)');
  log('');
  log(
    'Objective: priority-weighted predicted p95 above 85 % of the SLO (ten times more above the SLO), plus 0.05 per spare GPU held, 0.001 per GPU moved, 0.002 per new pair of replicas sharing a node; broken rules are prohibitive. Ratio = planner cost / best cost.',
  );
  log('');
  log('| fleet | instances | optimum found | mean cost ratio | worst cost ratio | within 5 % |');
  log('|---|---:|---:|---:|---:|---:|');
  let seed = 1;
  for (const shape of SMALL_SHAPES) {
    const ratios: number[] = [];
    let optimal = 0;
    for (let i = 0; i < SMALL_INSTANCES_PER_SHAPE; i++) {
      const input = smallFleet(shape, seed++);
      const plan = planAllocations(input);
      const planned = planCost(input, finalOwners(input, plan));
      const best = exhaustiveBest(input).cost;
      if (planned < best - 1e-9)
        throw new Error(`exhaustive search missed the planner's assignment (seed ${seed - 1})`);
      const ratio = best > 1e-12 ? planned / best : planned <= 1e-12 ? 1 : Number.POSITIVE_INFINITY;
      ratios.push(ratio);
      if (ratio <= 1 + 1e-9) optimal += 1;
    }
    const mean = ratios.reduce((sum, r) => sum + r, 0) / ratios.length;
    const worst = Math.max(...ratios);
    const within = ratios.filter((r) => r <= 1.05).length;
    log(
      `| ${shape.nodes} nodes × ${shape.gpusPerNode} GPUs, ${shape.deployments} deployments | ${ratios.length} | ${optimal} | ${fmt(mean, 3)} | ${fmt(worst, 3)} | ${within} |`,
    );
  }
}

type DemoStats = {
  p95: Map<string, number | null>;
  meanUtil: number;
  allocatedUtil: number;
  allocated: number;
};

function demoStats(owners: DemoOwners, observed: DemoObservation): DemoStats {
  const p95 = new Map(
    DEMO_DEPLOYMENTS.map((d) => [d.name, observed.latency.get(d.name)?.quantile(0.95) ?? null]),
  );
  let sum = 0;
  let allocatedSum = 0;
  let allocated = 0;
  for (const [uuid, util] of observed.gpuUtilizationPct) {
    sum += util;
    const owner = owners.get(uuid);
    if (owner?.deploymentId || owner?.jobId) {
      allocatedSum += util;
      allocated += 1;
    }
  }
  return {
    p95,
    meanUtil: sum / observed.gpuUtilizationPct.size,
    allocatedUtil: allocated > 0 ? allocatedSum / allocated : 0,
    allocated,
  };
}

async function demoFleet(log: (line: string) => void): Promise<void> {
  const ownersBefore = seededDemoOwners();
  const observedBefore = await simulateDemoFleet(ownersBefore, DEMO.startS, DEMO.warmupS, DEMO.measureS);
  const input = demoPlannerInput(ownersBefore, observedBefore);
  const plan = planAllocations(input);
  const ownersAfter = ownersOf(applyPlanToInput(input, plan));
  // The same simulated minutes again, so load waves and noise match.
  const observedAfter = await simulateDemoFleet(ownersAfter, DEMO.startS, DEMO.warmupS, DEMO.measureS);
  const before = demoStats(ownersBefore, observedBefore);
  const after = demoStats(ownersAfter, observedAfter);
  const gpus = (owners: DemoOwners, name: string) =>
    [...owners.values()].filter((o) => o.deploymentId === name).length;

  log('');
  log(
    `### Demo fleet, simulated (${DEMO.measureS} s after ${DEMO.warmupS} s warm-up, before and after the plan's ${moveCount(plan)} moves)`,
  );
  log('');
  log('| deployment | SLO p95 | GPUs before → after | p95 before | p95 after | change | within SLO after |');
  log('|---|---:|---:|---:|---:|---:|---:|');
  const overBefore: string[] = [];
  let pushedOver = 0;
  for (const spec of DEMO_DEPLOYMENTS) {
    const p95Before = before.p95.get(spec.name) ?? null;
    const p95After = after.p95.get(spec.name) ?? null;
    if (p95Before !== null && p95Before > spec.sloP95Ms) overBefore.push(spec.name);
    const within = p95After !== null && p95After <= spec.sloP95Ms;
    if (!within && p95Before !== null && p95Before <= spec.sloP95Ms) pushedOver += 1;
    const change =
      p95Before !== null && p95After !== null ? `${fmt((100 * (p95After - p95Before)) / p95Before)} %` : '–';
    log(
      `| ${spec.name} | ${fmt(spec.sloP95Ms)} ms | ${gpus(ownersBefore, spec.name)} → ${gpus(ownersAfter, spec.name)} | ${p95Before === null ? '–' : `${fmt(p95Before)} ms`} | ${p95After === null ? '–' : `${fmt(p95After)} ms`} | ${change} | ${within ? 'yes' : 'NO'} |`,
    );
  }
  log('');
  log('| measure | before | after | target |');
  log('|---|---:|---:|---:|');
  for (const name of overBefore) {
    const b = before.p95.get(name)!;
    const a = after.p95.get(name) ?? Number.NaN;
    const lower = (100 * (b - a)) / b;
    log(
      `| p95 of ${name} (over SLO before) | ${fmt(b)} ms | ${fmt(a)} ms | ≥ 40 % lower: ${fmt(lower)} % ${lower >= 40 ? '✓' : '✗'} |`,
    );
  }
  log(`| deployments pushed over their SLO | – | ${pushedOver} | 0 ${pushedOver === 0 ? '✓' : '✗'} |`);
  log(
    `| mean GPU utilization, all ${observedBefore.gpuUtilizationPct.size} GPUs | ${fmt(before.meanUtil, 1)} % | ${fmt(after.meanUtil, 1)} % | – |`,
  );
  log(
    `| mean GPU utilization, allocated GPUs (${before.allocated} → ${after.allocated}) | ${fmt(before.allocatedUtil, 1)} % | ${fmt(after.allocatedUtil, 1)} % | higher |`,
  );
  log(`| planning time | – | ${fmt(plan.computedMs, 2)} ms | – |`);
}

export async function runAllocationBench(log: (line: string) => void): Promise<void> {
  log('## Allocation planner');
  planningTime(log);
  planQuality(log);
  await demoFleet(log);
}
