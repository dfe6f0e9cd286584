import type { Assignments, DeploymentSample, GpuInventory, GpuSample } from '../../../lib/protocol/agent';

/** One interval's readings, before the agent numbers and timestamps them into a frame. */
export type TelemetrySample = { gpus: GpuSample[]; deployments: DeploymentSample[] };

/**
 * Where the agent's telemetry comes from: the simulator today; nvidia-smi, dcgm-exporter
 * and model-server metrics later. The agent owns sequencing, buffering and transport, so a
 * source only reads (or invents) numbers.
 */
export interface TelemetrySource {
  /** The node's GPUs; asked again on every connection, so a changed machine is reported. */
  inventory(): Promise<GpuInventory[]>;
  /** Readings for the interval that just ended; `intervalMs` is its length. */
  sample(intervalMs: number): Promise<TelemetrySample>;
  /** What the server says this node's GPUs serve; sources that only observe may ignore it. */
  applyAssignments(assignments: Assignments): void;
}
