import type { GpuSample } from '../../../../lib/protocol/agent';
import { type Rng, standardNormal, uniform } from './random';

/**
 * Simulated GPU sensors. Numbers are shaped after nvidia-smi on H100/L40S nodes (see
 * ../shared/fixtures/nvidia-smi): what matters is that they move together plausibly, so a
 * busy GPU is hot, draws power and clocks up, and an idle one sits at idle clocks.
 */

export const IDLE_POWER_W = 70;
export const IDLE_SM_CLOCK_MHZ = 345;
export const IDLE_TEMPERATURE_C = 32;
/** Seconds for temperature to cover ~63 % of the way to its new steady state. */
const TEMPERATURE_TIME_CONSTANT_S = 30;
/** Driver, CUDA context and framework overhead of any process holding the GPU. */
const RUNTIME_OVERHEAD_MIB = 1024;

export type GpuModelSpec = { memoryTotalMiB: number; tdpW: number; maxSmClockMHz: number };

/** What the GPU is doing this interval; memory is decided by the caller, who knows the workload. */
export type GpuActivity = { utilizationPct: number; memoryUsedMiB: number };

/** Per-GPU state carried between samples. */
export type GpuThermalState = { temperatureC: number | null };

export function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/**
 * Utilization of a GPU serving a replica that uses `busyFraction` of its capacity. The
 * jitter grows with load: a replica with almost no traffic reads steadily near zero, as
 * real idle GPUs do, instead of blipping over the 5 % idle line now and then.
 */
export function servingUtilizationPct(busyFraction: number, rng: Rng): number {
  const busy = clamp(busyFraction, 0, 1);
  return clamp(busy * 92 + (0.3 + 2 * busy) * standardNormal(rng), 0, 100);
}

export function idleUtilizationPct(rng: Rng): number {
  return uniform(rng, 0, 2);
}

/**
 * Memory of a GPU holding a model shard: weights (fp16) plus KV cache. Large models get a
 * large cache share; the share grows with load as the server keeps more sequences resident.
 */
export function servingMemoryMiB(
  gpu: GpuModelSpec,
  parametersB: number,
  gpusPerReplica: number,
  busyFraction: number,
): number {
  const weightsMiB = (parametersB * 1e9 * 2) / 2 ** 20 / Math.max(1, gpusPerReplica) + RUNTIME_OVERHEAD_MIB;
  const free = Math.max(0, gpu.memoryTotalMiB - weightsMiB);
  const cacheShare = clamp(0.1 + parametersB / 100, 0.1, 0.8) * (0.35 + 0.65 * clamp(busyFraction, 0, 1));
  return Math.min(gpu.memoryTotalMiB * 0.97, weightsMiB + free * cacheShare);
}

/** Builds one GPU's sample and advances its temperature toward the steady state for its load. */
export function gpuSample(
  uuid: string,
  gpu: GpuModelSpec,
  activity: GpuActivity,
  thermal: GpuThermalState,
  dtSec: number,
  rng: Rng,
): GpuSample {
  const util = clamp(activity.utilizationPct, 0, 100);
  const load = util / 100;

  const powerW = clamp(
    IDLE_POWER_W + (gpu.tdpW - IDLE_POWER_W) * load + 3 * standardNormal(rng),
    0,
    gpu.tdpW,
  );

  const steadyC = IDLE_TEMPERATURE_C + 0.5 * util;
  const previous = thermal.temperatureC ?? steadyC;
  const alpha = 1 - Math.exp(-dtSec / TEMPERATURE_TIME_CONSTANT_S);
  thermal.temperatureC = previous + (steadyC - previous) * alpha;

  // GPUs boost to near-maximum clocks at modest load and shed a little under sustained full load.
  const boost = clamp(util / 30, 0, 1);
  const throttle = util > 90 ? ((util - 90) / 10) * 0.04 : 0;
  const clock = IDLE_SM_CLOCK_MHZ + (gpu.maxSmClockMHz - IDLE_SM_CLOCK_MHZ) * boost * (1 - throttle);

  return {
    uuid,
    utilizationPct: round(util, 1),
    memoryUsedMiB: Math.round(clamp(activity.memoryUsedMiB, 0, gpu.memoryTotalMiB)),
    memoryTotalMiB: gpu.memoryTotalMiB,
    powerW: round(powerW, 1),
    temperatureC: Math.round(thermal.temperatureC),
    // Real clocks move in 15 MHz steps.
    smClockMHz: Math.round(clock / 15) * 15,
    xidErrors: 0,
    eccErrors: 0,
    remappedRowsPending: false,
    remappedRowsFailed: false,
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
