import type { PlannerInput } from '../lib/allocation/types';
import { DEMO_DEPLOYMENTS, DEMO_NODES, DEMO_TRAINING_JOB } from '../lib/demo-fleet';
import { LatencyDistribution } from '../lib/latency-histogram';
import type { Assignments } from '../lib/protocol/agent';
import { SimulatorSource } from '../workers/agent/sources/simulator/simulator-source';

/**
 * The demo fleet, simulated offline: every demo node's SimulatorSource on one fake clock,
 * fed the same assignments the server would send (server/services/agents/inventory.ts
 * assignmentsFor), so the planner can be judged by what the simulator then shows.
 */

export type DemoOwner = { deploymentId: string | null; jobId: string | null };
/** GPU UUID → owner; deployments and the job are named by their demo names. */
export type DemoOwners = Map<string, DemoOwner>;

export const DEMO_JOB_ID = 'training-job';

/** The initial allocation, laid out as server/services/demo/seed.ts lays it out. */
export function seededDemoOwners(): DemoOwners {
  const owners: DemoOwners = new Map();
  const free = DEMO_NODES.map((node) => [...node.gpuUuids]);
  // The training job holds the fifth and sixth nodes whole.
  for (const n of [4, 5]) {
    for (const uuid of free[n]!.splice(0)) owners.set(uuid, { deploymentId: null, jobId: DEMO_JOB_ID });
  }
  // Widest replicas first, each replica on the first node with room.
  const ordered = [...DEMO_DEPLOYMENTS].sort((a, b) => b.gpusPerReplica - a.gpusPerReplica);
  for (const spec of ordered) {
    for (let replica = 0; replica < spec.initialGpus / spec.gpusPerReplica; replica++) {
      const n = free.findIndex((gpus) => gpus.length >= spec.gpusPerReplica);
      if (n < 0) throw new Error(`demo fleet has no room for ${spec.name}`);
      for (const uuid of free[n]!.splice(0, spec.gpusPerReplica)) {
        owners.set(uuid, { deploymentId: spec.name, jobId: null });
      }
    }
  }
  return owners;
}

export type DemoObservation = {
  seconds: number;
  /** Per deployment: merged latency over the window, and requests. */
  latency: Map<string, LatencyDistribution>;
  requests: Map<string, number>;
  /** Per GPU UUID: mean utilization over the window. */
  gpuUtilizationPct: Map<string, number>;
};

function assignmentsFor(owners: DemoOwners, uuids: string[]): Assignments {
  const totals = new Map<string, number>();
  for (const owner of owners.values()) {
    if (owner.deploymentId) totals.set(owner.deploymentId, (totals.get(owner.deploymentId) ?? 0) + 1);
  }
  const gpus = uuids.map((uuid) => ({
    uuid,
    deploymentId: owners.get(uuid)?.deploymentId ?? null,
    jobId: owners.get(uuid)?.jobId ?? null,
  }));
  const here = [...new Set(gpus.flatMap((gpu) => (gpu.deploymentId ? [gpu.deploymentId] : [])))];
  return {
    gpus,
    deployments: here.map((name) => {
      const spec = DEMO_DEPLOYMENTS.find((d) => d.name === name)!;
      return {
        id: name,
        name,
        gpusPerReplica: spec.gpusPerReplica,
        // The fleet-wide count: the simulator spreads a deployment's traffic over all its replicas.
        totalGpus: totals.get(name) ?? 0,
        sloP95Ms: spec.sloP95Ms,
      };
    }),
  };
}

/**
 * Runs every demo node for `warmupS + measureS` simulated seconds from `startS` (1 s
 * samples) and keeps what the last `measureS` seconds showed.
 */
export async function simulateDemoFleet(
  owners: DemoOwners,
  startS: number,
  warmupS: number,
  measureS: number,
): Promise<DemoObservation> {
  let nowMs = startS * 1000;
  const sources = DEMO_NODES.map((node) => {
    const source = new SimulatorSource({ node, now: () => nowMs, serveHttp: false });
    source.applyAssignments(assignmentsFor(owners, node.gpuUuids));
    return source;
  });
  const latency = new Map<string, LatencyDistribution>();
  const requests = new Map<string, number>();
  const utilizationSum = new Map<string, number>();
  for (let t = 0; t < warmupS + measureS; t++) {
    nowMs += 1000;
    for (const source of sources) {
      const sample = await source.sample(1000);
      if (t < warmupS) continue;
      for (const d of sample.deployments) {
        let distribution = latency.get(d.deploymentId);
        if (!distribution) {
          distribution = new LatencyDistribution();
          latency.set(d.deploymentId, distribution);
        }
        distribution.addWire(d.latencyMs);
        requests.set(d.deploymentId, (requests.get(d.deploymentId) ?? 0) + d.requests);
      }
      for (const gpu of sample.gpus) {
        utilizationSum.set(gpu.uuid, (utilizationSum.get(gpu.uuid) ?? 0) + gpu.utilizationPct);
      }
    }
  }
  const gpuUtilizationPct = new Map([...utilizationSum].map(([uuid, sum]) => [uuid, sum / measureS]));
  return { seconds: measureS, latency, requests, gpuUtilizationPct };
}

/** What the planner would be given for this observation (every GPU healthy). */
export function demoPlannerInput(owners: DemoOwners, observed: DemoObservation): PlannerInput {
  const gpus = DEMO_NODES.flatMap((node) =>
    node.gpuUuids.map((uuid, index) => ({
      id: uuid,
      nodeId: node.hostname,
      label: `${node.hostname}/${index}`,
      deploymentId: owners.get(uuid)?.deploymentId ?? null,
      jobId: owners.get(uuid)?.jobId ?? null,
      eligible: true,
      utilizationPct: observed.gpuUtilizationPct.get(uuid) ?? null,
    })),
  );
  return {
    gpus,
    deployments: DEMO_DEPLOYMENTS.map((spec) => {
      const held = gpus.filter((gpu) => gpu.deploymentId === spec.name);
      const utilizationPct =
        held.length > 0 ? held.reduce((sum, gpu) => sum + (gpu.utilizationPct ?? 0), 0) / held.length : null;
      return {
        id: spec.name,
        name: spec.name,
        priority: spec.priority,
        minGpus: spec.minGpus,
        maxGpus: spec.maxGpus,
        gpusPerReplica: spec.gpusPerReplica,
        sloP95Ms: spec.sloP95Ms,
        version: 1,
        p95Ms: observed.latency.get(spec.name)?.quantile(0.95) ?? null,
        requestsPerSecond: (observed.requests.get(spec.name) ?? 0) / observed.seconds,
        utilizationPct,
      };
    }),
    jobs: [{ id: DEMO_JOB_ID, name: DEMO_TRAINING_JOB.name, version: 1 }],
  };
}

export function ownersOf(input: PlannerInput): DemoOwners {
  return new Map(input.gpus.map((gpu) => [gpu.id, { deploymentId: gpu.deploymentId, jobId: gpu.jobId }]));
}
