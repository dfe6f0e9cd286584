import { DEMO_DEPLOYMENTS, type DemoDeployment, type DemoNode } from '../../../../lib/demo-fleet';
import { LatencyRecorder } from '../../../../lib/latency-histogram';
import type { Assignments, DeploymentSample, GpuInventory, GpuSample } from '../../../../lib/protocol/agent';
import type { TelemetrySample, TelemetrySource } from '../source';
import {
  type GpuActivity,
  type GpuThermalState,
  gpuSample,
  idleUtilizationPct,
  servingMemoryMiB,
  servingUtilizationPct,
} from './gpu-model';
import {
  deploymentLoadRps,
  IDLE_REPLICA,
  perReplicaArrivalRps,
  type ReplicaState,
  replicaCount,
  stepReplica,
} from './queueing-model';
import { hashString, mulberry32, type Rng, standardNormal, uniform } from './random';

/** The part of a demo deployment the simulator needs: its traffic and its model's size. */
export type SimulatedDeploymentSpec = Pick<
  DemoDeployment,
  'name' | 'baseRps' | 'replicaCapacityRps' | 'serviceMs'
> & {
  model: { parametersB: number };
};

/** Traffic model for a deployment the specs do not know (created on the server after the demo seed). */
export const GENERIC_DEPLOYMENT: Omit<SimulatedDeploymentSpec, 'name'> = {
  baseRps: 10,
  replicaCapacityRps: 10,
  serviceMs: 200,
  model: { parametersB: 7 },
};

export type SimulatorSourceOptions = {
  node: DemoNode;
  /** Matched to the server's deployments by name, since assignments carry ids the specs cannot know. */
  deployments?: readonly SimulatedDeploymentSpec[];
  /** Defaults to a hash of the hostname, so a node replays the same noise after a restart. */
  seed?: number;
  /** Clock for the load wave; tests pass a fake one. */
  now?: () => number;
  /** Relative amplitude of per-second load noise; the same for every node at a given second. */
  loadNoise?: number;
  /** Chance per GPU per sample of reporting an XID error; 0 keeps the demo fleet healthy. */
  xidProbabilityPerSample?: number;
};

/** A training job's data loader stalls about this often (mean seconds between stalls per job). */
const MEAN_SECONDS_BETWEEN_STALLS = 120;

/**
 * Simulated GPUs and simulated model servers for one node. Traffic for a deployment is the
 * same function of wall-clock time on every node, and each node serves its share through
 * the replicas it holds, so nodes agree without talking to each other.
 */
export class SimulatorSource implements TelemetrySource {
  private readonly node: DemoNode;
  private readonly specs: Map<string, SimulatedDeploymentSpec>;
  private readonly rng: Rng;
  private readonly now: () => number;
  private readonly loadNoise: number;
  private readonly xidProbability: number;
  private assignments: Assignments = { gpus: [], deployments: [] };
  /** Queue state per replica, keyed `${deploymentId}/${replicaIndex}`. */
  private readonly replicas = new Map<string, ReplicaState>();
  private readonly thermal = new Map<string, GpuThermalState>();
  /** Per training job: until when (ms) its data loader is stalled. */
  private readonly stalledUntil = new Map<string, number>();

  constructor(options: SimulatorSourceOptions) {
    this.node = options.node;
    this.specs = new Map((options.deployments ?? DEMO_DEPLOYMENTS).map((spec) => [spec.name, spec]));
    this.rng = mulberry32(options.seed ?? hashString(options.node.hostname));
    this.now = options.now ?? Date.now;
    this.loadNoise = options.loadNoise ?? 0.03;
    this.xidProbability = options.xidProbabilityPerSample ?? 0;
  }

  async inventory(): Promise<GpuInventory[]> {
    const { gpuModel, gpuUuids } = this.node;
    return gpuUuids.map((uuid, index) => ({
      index,
      uuid,
      name: gpuModel.name,
      memoryTotalMiB: gpuModel.memoryTotalMiB,
    }));
  }

  applyAssignments(assignments: Assignments): void {
    this.assignments = assignments;
  }

  async sample(intervalMs: number): Promise<TelemetrySample> {
    const nowMs = this.now();
    const dtSec = intervalMs / 1000;
    const activity = new Map<string, GpuActivity>();
    const deployments = this.sampleDeployments(nowMs / 1000, dtSec, activity);
    this.sampleTrainingJobs(nowMs, dtSec, activity);
    const gpus = this.node.gpuUuids.map((uuid) => this.sampleGpu(uuid, activity.get(uuid), dtSec));
    return { gpus, deployments };
  }

  private sampleDeployments(
    tSec: number,
    dtSec: number,
    activity: Map<string, GpuActivity>,
  ): DeploymentSample[] {
    const samples: DeploymentSample[] = [];
    const liveReplicas = new Set<string>();
    for (const [deploymentId, uuids] of this.localGpusBy('deploymentId')) {
      const assigned = this.assignments.deployments.find((d) => d.id === deploymentId);
      const name = assigned?.name ?? deploymentId;
      const spec = this.specs.get(name) ?? { name, ...GENERIC_DEPLOYMENT };
      const gpusPerReplica = Math.max(1, assigned?.gpusPerReplica ?? 1);
      const totalReplicas = replicaCount(assigned?.totalGpus ?? uuids.length, gpusPerReplica);
      // GPUs short of a whole replica hold weights but serve nothing until the replica is complete.
      const localReplicas = Math.min(totalReplicas, replicaCount(uuids.length, gpusPerReplica));
      const deploymentRps = deploymentLoadRps(spec.baseRps, tSec, phaseOf(name), this.noiseAt(name, tSec));
      const load = {
        arrivalRps: perReplicaArrivalRps(deploymentRps, totalReplicas),
        capacityRps: spec.replicaCapacityRps,
        serviceMs: spec.serviceMs,
      };

      const recorder = new LatencyRecorder();
      let requests = 0;
      let errors = 0;
      let queueDepth = 0;
      for (const uuid of uuids) {
        activity.set(uuid, {
          utilizationPct: idleUtilizationPct(this.rng),
          memoryUsedMiB: servingMemoryMiB(this.node.gpuModel, spec.model.parametersB, gpusPerReplica, 0),
        });
      }
      for (let replica = 0; replica < localReplicas; replica++) {
        const key = `${deploymentId}/${replica}`;
        const step = stepReplica(this.replicas.get(key) ?? IDLE_REPLICA, load, dtSec, this.rng, recorder);
        this.replicas.set(key, step.state);
        liveReplicas.add(key);
        requests += step.requests;
        errors += step.errors;
        queueDepth += step.queueDepth;
        for (const uuid of uuids.slice(replica * gpusPerReplica, (replica + 1) * gpusPerReplica)) {
          activity.set(uuid, {
            utilizationPct: servingUtilizationPct(step.busyFraction, this.rng),
            memoryUsedMiB: servingMemoryMiB(
              this.node.gpuModel,
              spec.model.parametersB,
              gpusPerReplica,
              step.busyFraction,
            ),
          });
        }
      }
      samples.push({
        deploymentId,
        requests,
        errors,
        queueDepth: Math.round(queueDepth * 100) / 100,
        latencyMs: recorder.drain(),
      });
    }
    for (const key of this.replicas.keys()) if (!liveReplicas.has(key)) this.replicas.delete(key);
    return samples;
  }

  private sampleTrainingJobs(nowMs: number, dtSec: number, activity: Map<string, GpuActivity>): void {
    const liveJobs = new Set<string>();
    for (const [jobId, uuids] of this.localGpusBy('jobId')) {
      liveJobs.add(jobId);
      let stalledUntil = this.stalledUntil.get(jobId) ?? 0;
      if (nowMs >= stalledUntil && this.rng() < dtSec / MEAN_SECONDS_BETWEEN_STALLS) {
        // A data-loader stall idles every GPU of the job at once, for a few seconds.
        stalledUntil = nowMs + uniform(this.rng, 3, 8) * 1000;
        this.stalledUntil.set(jobId, stalledUntil);
      }
      const stalled = nowMs < stalledUntil;
      for (const uuid of uuids) {
        if (activity.has(uuid)) continue;
        const { memoryTotalMiB } = this.node.gpuModel;
        activity.set(uuid, {
          utilizationPct: stalled ? 30 + 4 * standardNormal(this.rng) : uniform(this.rng, 88, 99),
          // Training holds a steady, nearly full share of memory for the whole run.
          memoryUsedMiB: memoryTotalMiB * (0.86 + 0.06 * ((hashString(uuid) % 1000) / 1000)),
        });
      }
    }
    for (const jobId of this.stalledUntil.keys()) if (!liveJobs.has(jobId)) this.stalledUntil.delete(jobId);
  }

  private sampleGpu(uuid: string, activity: GpuActivity | undefined, dtSec: number): GpuSample {
    let thermal = this.thermal.get(uuid);
    if (!thermal) {
      thermal = { temperatureC: null };
      this.thermal.set(uuid, thermal);
    }
    const unassigned = { utilizationPct: idleUtilizationPct(this.rng), memoryUsedMiB: 0 };
    const sample = gpuSample(uuid, this.node.gpuModel, activity ?? unassigned, thermal, dtSec, this.rng);
    if (this.xidProbability > 0 && this.rng() < this.xidProbability) sample.xidErrors = 1;
    return sample;
  }

  /** This node's GPU UUIDs (in index order) grouped by the owner named in `field`. */
  private localGpusBy(field: 'deploymentId' | 'jobId'): Map<string, string[]> {
    const owners = new Map(this.assignments.gpus.map((gpu) => [gpu.uuid, gpu[field]]));
    const groups = new Map<string, string[]>();
    for (const uuid of this.node.gpuUuids) {
      const owner = owners.get(uuid);
      if (!owner) continue;
      const group = groups.get(owner);
      if (group) group.push(uuid);
      else groups.set(owner, [uuid]);
    }
    return groups;
  }

  /**
   * Load noise for a deployment at a given second: drawn from a hash of (name, second) rather
   * than the node's RNG, so every node serving the deployment sees the same traffic.
   */
  private noiseAt(name: string, tSec: number): number {
    const u = mulberry32(hashString(name) ^ Math.floor(tSec))();
    return (u * 2 - 1) * this.loadNoise;
  }
}

/** Each deployment's load wave starts at its own phase, so they do not all peak together. */
function phaseOf(name: string): number {
  return (hashString(name) / 2 ** 32) * 2 * Math.PI;
}
