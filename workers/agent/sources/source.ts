import type { Assignments, DeploymentSample, GpuInventory, GpuSample } from '../../../lib/protocol/agent';
import type { AgentEndpoints } from '../../../lib/protocol/stress';

/** One interval's readings, before the agent numbers and timestamps them into a frame. */
export type TelemetrySample = { gpus: GpuSample[]; deployments: DeploymentSample[] };

/** An inference endpoint on this node that stress tests can send load to. */
export type InferenceEndpoint = AgentEndpoints['endpoints'][number];

/**
 * Where the agent's telemetry comes from: the simulator, nvidia-smi, dcgm-exporter or
 * model-server metrics (sources/<name>/), or several at once (CompositeSource). The agent
 * owns sequencing, buffering and transport, so a source only reads (or invents) numbers.
 */
export interface TelemetrySource {
  /**
   * True when some readings are differences between two reads (counters, histograms): the
   * first sample after start then only sets a baseline.
   */
  readonly cumulative?: boolean;
  /** The node's GPUs; asked again on every connection, so a changed machine is reported. */
  inventory(): Promise<GpuInventory[]>;
  /** Readings for the interval that just ended; `intervalMs` is its length. */
  sample(intervalMs: number): Promise<TelemetrySample>;
  /** What the server says this node's GPUs serve; sources that only observe may ignore it. */
  applyAssignments(assignments: Assignments): void;
  /** Inference endpoints this source serves (the simulator's model servers), per deployment. */
  inferenceEndpoints?(): InferenceEndpoint[];
  /** Calls `listener` whenever inferenceEndpoints() would answer differently. */
  onInferenceEndpointsChange?(listener: () => void): void;
  /** Releases what the source holds open (servers, sockets); the agent calls it when it stops. */
  close?(): Promise<void>;
}
