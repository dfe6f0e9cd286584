import { DEMO_DEPLOYMENTS, type DemoDeployment, type DemoNode } from '../../../../lib/demo-fleet';
import { LatencyRecorder } from '../../../../lib/latency-histogram';
import type { Assignments, DeploymentSample, GpuInventory, GpuSample } from '../../../../lib/protocol/agent';
import { mergeDeployments } from '../composite-source';
import type { InferenceEndpoint, TelemetrySample, TelemetrySource } from '../source';
import {
  type GpuActivity,
  type GpuThermalState,
  gpuSample,
  idleUtilizationPct,
  servingMemoryMiB,
  servingUtilizationPct,
} from './gpu-model';
import { SimulatedModelServer } from './model-server-http';
import {
  deploymentLoadRps,
  IDLE_REPLICA,
  perReplicaArrivalRps,
  type ReplicaState,
  replicaCount,
  SERVICE_TIME_SIGMA,
  stepReplica,
} from './queueing-model';
import { hashString, lognormalFactor, mulberry32, type Rng, standardNormal, uniform } from './random';

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
  /**
   * Serve each local deployment on a real HTTP server on 127.0.0.1, so stress tests have an
   * endpoint to load (default true).
   */
  serveHttp?: boolean;
};

/** A local deployment as this node sees it: its GPUs here and how many whole replicas they make. */
type LocalDeployment = {
  deploymentId: string;
  name: string;
  spec: SimulatedDeploymentSpec;
  gpusPerReplica: number;
  totalReplicas: number;
  localReplicas: number;
  uuids: string[];
};

/** A local deployment's HTTP model server and the background load its requests compete with. */
type ModelEndpoint = {
  server: SimulatedModelServer;
  spec: SimulatedDeploymentSpec;
  /** The simulated traffic's share of a replica's capacity, from the last sample. */
  backgroundUtilization: number;
};

/**
 * Real requests share a replica with the simulated traffic, so a request needing `serviceMs`
 * of a whole replica takes serviceMs / (1 − background utilization), as under processor
 * sharing. The share is capped so a saturated replica is very slow rather than frozen.
 */
const MAX_BACKGROUND_SHARE = 0.9;

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
  private readonly serveHttp: boolean;
  /** HTTP model servers by deployment id. */
  private readonly modelEndpoints = new Map<string, ModelEndpoint>();
  private readonly endpointListeners: (() => void)[] = [];
  private closed = false;

  constructor(options: SimulatorSourceOptions) {
    this.node = options.node;
    this.specs = new Map((options.deployments ?? DEMO_DEPLOYMENTS).map((spec) => [spec.name, spec]));
    this.rng = mulberry32(options.seed ?? hashString(options.node.hostname));
    this.now = options.now ?? Date.now;
    this.loadNoise = options.loadNoise ?? 0.03;
    this.xidProbability = options.xidProbabilityPerSample ?? 0;
    this.serveHttp = options.serveHttp ?? true;
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
    this.syncModelEndpoints();
  }

  inferenceEndpoints(): InferenceEndpoint[] {
    const endpoints: InferenceEndpoint[] = [];
    for (const [deploymentId, { server }] of this.modelEndpoints) {
      if (server.url && server.replicas > 0)
        endpoints.push({ deploymentId, url: server.url, replicas: server.replicas });
    }
    return endpoints;
  }

  onInferenceEndpointsChange(listener: () => void): void {
    this.endpointListeners.push(listener);
  }

  /** The HTTP model server of a local deployment (tests stall it), if it has one. */
  modelServer(deploymentId: string): SimulatedModelServer | undefined {
    return this.modelEndpoints.get(deploymentId)?.server;
  }

  async close(): Promise<void> {
    this.closed = true;
    const endpoints = [...this.modelEndpoints.values()];
    this.modelEndpoints.clear();
    await Promise.allSettled(endpoints.map(({ server }) => server.close()));
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
    for (const local of this.localDeployments()) {
      const { deploymentId, name, spec, gpusPerReplica, localReplicas, uuids } = local;
      const deploymentRps = deploymentLoadRps(spec.baseRps, tSec, phaseOf(name), this.noiseAt(name, tSec));
      const backgroundRps = perReplicaArrivalRps(deploymentRps, local.totalReplicas);
      const endpoint = this.modelEndpoints.get(deploymentId);
      const real = endpoint?.server.takeInterval();
      // Real requests (a stress test) add to the replicas' load, so the simulated queues, and
      // with them the simulated traffic's latency, grow with them.
      const realRps = real && localReplicas > 0 ? real.arrivals / dtSec / localReplicas : 0;
      const load = {
        arrivalRps: backgroundRps + realRps,
        capacityRps: spec.replicaCapacityRps,
        serviceMs: spec.serviceMs,
      };
      if (endpoint) endpoint.backgroundUtilization = backgroundRps / spec.replicaCapacityRps;

      // The model draws requests for all of that load; the real ones are measured by the HTTP
      // server itself, so only the simulated traffic's share of the drawn ones is reported.
      const backgroundShare = realRps > 0 ? backgroundRps / (backgroundRps + realRps) : 1;
      const recorder = new ShareRecorder(backgroundShare, this.rng);
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
        errors += Math.round(step.errors * backgroundShare);
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
      const simulated: DeploymentSample = {
        deploymentId,
        // Served requests are those the recorder kept, so the count and the histogram agree.
        requests: recorder.kept + errors,
        errors,
        queueDepth: Math.round(queueDepth * 100) / 100,
        latencyMs: recorder.drain(),
      };
      if (!real) {
        samples.push(simulated);
        continue;
      }
      const measured: DeploymentSample = {
        deploymentId,
        requests: real.completed,
        errors: real.errors,
        queueDepth: real.queued,
        latencyMs: real.latencyMs,
      };
      samples.push(...mergeDeployments([simulated, measured]));
    }
    for (const key of this.replicas.keys()) if (!liveReplicas.has(key)) this.replicas.delete(key);
    return samples;
  }

  /** Local deployments, in order of first GPU, with the replicas their GPUs here make up. */
  private localDeployments(): LocalDeployment[] {
    const locals: LocalDeployment[] = [];
    for (const [deploymentId, uuids] of this.localGpusBy('deploymentId')) {
      const assigned = this.assignments.deployments.find((d) => d.id === deploymentId);
      const name = assigned?.name ?? deploymentId;
      const spec = this.specs.get(name) ?? { name, ...GENERIC_DEPLOYMENT };
      const gpusPerReplica = Math.max(1, assigned?.gpusPerReplica ?? 1);
      const totalReplicas = replicaCount(assigned?.totalGpus ?? uuids.length, gpusPerReplica);
      // GPUs short of a whole replica hold weights but serve nothing until the replica is complete.
      const localReplicas = Math.min(totalReplicas, replicaCount(uuids.length, gpusPerReplica));
      locals.push({ deploymentId, name, spec, gpusPerReplica, totalReplicas, localReplicas, uuids });
    }
    return locals;
  }

  /**
   * Starts a model server for each local deployment with a whole replica here, stops those of
   * deployments that left, and follows replica counts; listeners hear of every change.
   */
  private syncModelEndpoints(): void {
    if (!this.serveHttp || this.closed) return;
    const wanted = new Map(
      this.localDeployments()
        .filter((local) => local.localReplicas > 0)
        .map((local) => [local.deploymentId, local]),
    );
    let changed = false;
    for (const [deploymentId, endpoint] of this.modelEndpoints) {
      if (wanted.has(deploymentId)) continue;
      this.modelEndpoints.delete(deploymentId);
      changed ||= endpoint.server.url !== null;
      void endpoint.server.close();
    }
    for (const local of wanted.values()) {
      const known = this.modelEndpoints.get(local.deploymentId);
      if (known) {
        known.spec = local.spec;
        if (known.server.replicas !== local.localReplicas) {
          known.server.setReplicas(local.localReplicas);
          changed ||= known.server.url !== null;
        }
        continue;
      }
      const endpoint = this.createModelEndpoint(local);
      this.modelEndpoints.set(local.deploymentId, endpoint);
      endpoint.server.start().then(
        () => {
          if (this.modelEndpoints.get(local.deploymentId) === endpoint) this.notifyEndpoints();
        },
        // Without a port the deployment simply has no endpoint here; telemetry goes on.
        () =>
          this.modelEndpoints.get(local.deploymentId) === endpoint &&
          this.modelEndpoints.delete(local.deploymentId),
      );
    }
    if (changed) this.notifyEndpoints();
  }

  private createModelEndpoint(local: LocalDeployment): ModelEndpoint {
    const rng = mulberry32(hashString(`${this.node.hostname}/${local.deploymentId}/http`));
    const endpoint: ModelEndpoint = {
      spec: local.spec,
      backgroundUtilization: 0,
      server: new SimulatedModelServer({
        deploymentName: local.name,
        replicas: local.localReplicas,
        // A replica serves replicaCapacityRps with serviceMs per request: that many at once.
        slotsPerReplica: Math.max(
          1,
          Math.round((local.spec.replicaCapacityRps * local.spec.serviceMs) / 1000),
        ),
        serviceTimeMs: () => {
          const share = Math.min(Math.max(0, endpoint.backgroundUtilization), MAX_BACKGROUND_SHARE);
          return (endpoint.spec.serviceMs * lognormalFactor(rng, SERVICE_TIME_SIGMA)) / (1 - share);
        },
      }),
    };
    return endpoint;
  }

  private notifyEndpoints(): void {
    for (const listener of this.endpointListeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the others still hear of the change.
      }
    }
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

/**
 * A recorder that keeps `share` of what it is given (each weight rounded up or down at
 * random, so the expected count is exact): the simulated traffic's part of the requests the
 * queueing model drew for simulated and real load together.
 */
class ShareRecorder extends LatencyRecorder {
  /** Requests recorded since the start (drain() does not reset it). */
  kept = 0;

  constructor(
    private readonly share: number,
    private readonly rng: Rng,
  ) {
    super();
  }

  override record(valueMs: number, times = 1): void {
    const kept = this.share >= 1 ? times : Math.floor(times * this.share + this.rng());
    if (kept <= 0) return;
    this.kept += kept;
    super.record(valueMs, kept);
  }
}

/** Each deployment's load wave starts at its own phase, so they do not all peak together. */
function phaseOf(name: string): number {
  return (hashString(name) / 2 ** 32) * 2 * Math.PI;
}
