/**
 * The demo fleet: what `npm start` seeds on first start and what the simulated agents
 * pretend to be. Deterministic, so the seed (server side) and the simulator (agent side)
 * agree on hostnames and GPU UUIDs without talking to each other; the agents still
 * enroll, report inventory and stream telemetry through the ordinary agent protocol.
 */

export type DemoGpuModel = { name: string; memoryTotalMiB: number; tdpW: number; maxSmClockMHz: number };

export const GPU_MODELS = {
  h100: { name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559, tdpW: 700, maxSmClockMHz: 1980 },
  l40s: { name: 'NVIDIA L40S', memoryTotalMiB: 46068, tdpW: 350, maxSmClockMHz: 2520 },
} satisfies Record<string, DemoGpuModel>;

export type DemoNode = { cluster: string; hostname: string; gpuModel: DemoGpuModel; gpuUuids: string[] };

/**
 * Traffic and service model of a simulated deployment (see workers/agent/sources/simulator):
 * `baseRps` arrives at the deployment and is spread evenly over its replicas; a replica
 * serves `replicaCapacityRps` at most, with `serviceMs` of work per request.
 */
export type DemoDeployment = {
  name: string;
  model: { name: string; family: string; parametersB: number };
  gpusPerReplica: number;
  sloP95Ms: number;
  priority: number;
  minGpus: number;
  maxGpus: number;
  initialGpus: number;
  baseRps: number;
  replicaCapacityRps: number;
  serviceMs: number;
};

export const DEMO_CLUSTERS = [
  { name: 'us-east-1', region: 'us-east' },
  { name: 'eu-west-1', region: 'eu-west' },
];

function uuidFor(hostname: string, index: number): string {
  // Stable, UUID-shaped identifiers; nvidia-smi prints "GPU-" + UUID.
  let h = 2166136261;
  for (const c of `${hostname}/${index}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  const hex = (n: number, len: number) => (n >>> 0).toString(16).padStart(len, '0').slice(-len);
  const a = hex(h, 8);
  const b = hex(Math.imul(h, 31) ^ index, 8);
  return `GPU-${a}-${b.slice(0, 4)}-${b.slice(4, 8)}-${hex(index * 7919 + 4096, 4)}-${hex(h ^ 0x5bd1e995, 8)}${hex(index, 4)}`;
}

function nodesOf(cluster: string, prefix: string, count: number, gpuModel: DemoGpuModel): DemoNode[] {
  return Array.from({ length: count }, (_, i) => {
    const hostname = `${prefix}-${String(i + 1).padStart(2, '0')}`;
    return {
      cluster,
      hostname,
      gpuModel,
      gpuUuids: Array.from({ length: 8 }, (_, g) => uuidFor(hostname, g)),
    };
  });
}

export const DEMO_NODES: DemoNode[] = [
  ...nodesOf('us-east-1', 'use1-h100', 6, GPU_MODELS.h100),
  ...nodesOf('eu-west-1', 'euw1-h100', 3, GPU_MODELS.h100),
  ...nodesOf('eu-west-1', 'euw1-l40s', 3, GPU_MODELS.l40s),
];

export const DEMO_DEPLOYMENTS: DemoDeployment[] = [
  {
    name: 'chat-70b',
    model: { name: 'llama-3.1-70b-instruct', family: 'llama', parametersB: 70 },
    gpusPerReplica: 4,
    sloP95Ms: 1200,
    priority: 100,
    minGpus: 8,
    maxGpus: 32,
    initialGpus: 8,
    // Two replicas at ~93 % load: queues build and p95 sits far over the SLO; with three
    // replicas (12 GPUs) or more it meets it. Every other deployment meets its SLO as seeded.
    baseRps: 26,
    replicaCapacityRps: 14,
    serviceMs: 600,
  },
  {
    name: 'code-34b',
    model: { name: 'codellama-34b', family: 'llama', parametersB: 34 },
    gpusPerReplica: 2,
    sloP95Ms: 900,
    priority: 80,
    minGpus: 4,
    maxGpus: 16,
    initialGpus: 8,
    baseRps: 30,
    replicaCapacityRps: 20,
    serviceMs: 420,
  },
  {
    name: 'embed-small',
    model: { name: 'bge-small-en-v1.5', family: 'bert', parametersB: 0.03 },
    gpusPerReplica: 1,
    sloP95Ms: 60,
    priority: 40,
    minGpus: 2,
    maxGpus: 16,
    initialGpus: 16,
    // Sixteen replicas for a trickle of traffic: allocated GPUs sitting idle.
    baseRps: 40,
    replicaCapacityRps: 400,
    serviceMs: 12,
  },
  {
    name: 'rerank-base',
    model: { name: 'bge-reranker-base', family: 'bert', parametersB: 0.28 },
    gpusPerReplica: 1,
    sloP95Ms: 120,
    priority: 50,
    minGpus: 2,
    maxGpus: 12,
    initialGpus: 6,
    baseRps: 600,
    replicaCapacityRps: 220,
    serviceMs: 35,
  },
  {
    name: 'vision-13b',
    model: { name: 'llava-1.6-13b', family: 'llava', parametersB: 13 },
    gpusPerReplica: 2,
    sloP95Ms: 800,
    priority: 60,
    minGpus: 2,
    maxGpus: 12,
    initialGpus: 6,
    baseRps: 14,
    replicaCapacityRps: 14,
    serviceMs: 380,
  },
  {
    name: 'asr-whisper',
    model: { name: 'whisper-large-v3', family: 'whisper', parametersB: 1.55 },
    gpusPerReplica: 1,
    sloP95Ms: 400,
    priority: 30,
    minGpus: 1,
    maxGpus: 8,
    initialGpus: 4,
    baseRps: 24,
    replicaCapacityRps: 30,
    serviceMs: 180,
  },
];

/** A training job holding whole nodes, so the fleet is not only inference. */
export const DEMO_TRAINING_JOB = { name: 'pretrain-8b-run-42', gpus: 16 };

export const DEMO_AGENT_VERSION = 'switchyard-agent/0.1.0 (simulator)';
