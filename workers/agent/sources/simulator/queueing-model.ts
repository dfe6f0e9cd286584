import type { LatencyRecorder } from '../../../../lib/latency-histogram';
import { exponential, lognormalFactor, poisson, type Rng } from './random';

/**
 * Latency of one simulated model-server replica. Deliberately simple: an M/M/1-like wait
 * while the replica keeps up, and a fluid backlog once it does not, so that the effects an
 * operator cares about come out right: more load or fewer GPUs give longer queues and a
 * higher p95, more GPUs give a lower one, and a replica far past its capacity rejects work.
 */

/** Spread of service times around `serviceMs` (lognormal sigma). */
export const SERVICE_TIME_SIGMA = 0.25;
/** Highest utilization the M/M/1 wait is evaluated at; past it the fluid backlog takes over. */
export const SATURATED_RHO = 0.99;
/** A replica queues at most this much work; arrivals beyond it are rejected (counted as errors). */
export const MAX_BACKLOG_SECONDS = 30;
/** Latency values drawn per replica per interval; each stands for several requests above this. */
export const MAX_LATENCY_SAMPLES = 2000;
/** Relative amplitude and period of the daily-cycle stand-in that keeps charts moving. */
export const LOAD_WAVE_AMPLITUDE = 0.15;
export const LOAD_WAVE_PERIOD_SECONDS = 300;

export type ReplicaLoad = {
  /** Requests per second arriving at this replica. */
  arrivalRps: number;
  /** Requests per second the replica can complete. */
  capacityRps: number;
  /** Mean work per request, ms. */
  serviceMs: number;
};

/** What a replica carries from one interval to the next: requests queued beyond steady state. */
export type ReplicaState = { backlog: number };

export type ReplicaInterval = {
  state: ReplicaState;
  requests: number;
  /** Requests rejected because the backlog was full. */
  errors: number;
  queueDepth: number;
  /** Fraction of the replica's capacity in use, 0..1: drives simulated GPU utilization. */
  busyFraction: number;
};

export const IDLE_REPLICA: ReplicaState = { backlog: 0 };

/** Replicas a deployment runs: only whole replicas serve traffic. */
export function replicaCount(totalGpus: number, gpusPerReplica: number): number {
  if (!(gpusPerReplica > 0)) return 0;
  return Math.max(0, Math.floor(totalGpus / gpusPerReplica));
}

/** Requests per second reaching each replica when the deployment's load is spread evenly. */
export function perReplicaArrivalRps(deploymentRps: number, totalReplicas: number): number {
  return totalReplicas > 0 ? deploymentRps / totalReplicas : 0;
}

/**
 * Deployment load at time `tSec`: a slow wave (phase per deployment, so they do not peak
 * together) times `1 + noise`, where the caller supplies noise of a few percent.
 */
export function deploymentLoadRps(baseRps: number, tSec: number, phase: number, noise: number): number {
  const wave = 1 + LOAD_WAVE_AMPLITUDE * Math.sin((2 * Math.PI * tSec) / LOAD_WAVE_PERIOD_SECONDS + phase);
  return Math.max(0, baseRps * wave * (1 + noise));
}

/**
 * Advances one replica by `dtSec`, records the latency of the requests it served into
 * `recorder` (weighted so the recorder's count grows by exactly the served requests) and
 * returns the interval's counts with the next state.
 */
export function stepReplica(
  state: ReplicaState,
  load: ReplicaLoad,
  dtSec: number,
  rng: Rng,
  recorder: LatencyRecorder,
): ReplicaInterval {
  const mu = load.capacityRps;
  const lambda = Math.max(0, load.arrivalRps);
  if (!(mu > 0) || !(dtSec > 0)) {
    // No capacity: nothing is served and nothing can be queued.
    const requests = poisson(rng, lambda * Math.max(0, dtSec));
    return { state: IDLE_REPLICA, requests, errors: requests, queueDepth: 0, busyFraction: 0 };
  }

  const rho = lambda / mu;
  const backlogCap = MAX_BACKLOG_SECONDS * mu;
  const backlogBefore = Math.min(state.backlog, backlogCap);
  let backlogAfter = backlogBefore + (lambda - mu) * dtSec;
  let overflow = 0;
  if (backlogAfter > backlogCap) {
    overflow = backlogAfter - backlogCap;
    backlogAfter = backlogCap;
  }
  backlogAfter = Math.max(0, backlogAfter);

  const requests = poisson(rng, lambda * dtSec);
  const expectedArrivals = lambda * dtSec;
  const rejectedFraction =
    overflow > 0 && expectedArrivals > 0 ? Math.min(1, overflow / expectedArrivals) : 0;
  const errors = Math.min(requests, Math.round(requests * rejectedFraction));
  const served = requests - errors;

  // Requests arriving during the interval see, on average, the backlog halfway through it.
  const backlogWaitSec = (backlogBefore + backlogAfter) / 2 / mu;
  const waitRho = Math.min(rho, SATURATED_RHO);
  const waitRate = mu * (1 - waitRho);
  recordLatencies(served, recorder, () => {
    const serviceMs = load.serviceMs * lognormalFactor(rng, SERVICE_TIME_SIGMA);
    const queuedSec = rng() < waitRho ? exponential(rng, waitRate) : 0;
    return serviceMs + (backlogWaitSec + queuedSec) * 1000;
  });

  // Mean number waiting in a stable M/M/1, plus whatever backlog is left. It is continuous
  // across rho = 1, where the plain formula would jump from ~99 to a near-empty backlog.
  const queueDepth = waitRho / (1 - waitRho) + backlogAfter;
  const busyFraction = backlogAfter > 0 || backlogBefore > 0 ? 1 : Math.min(1, rho);
  return { state: { backlog: backlogAfter }, requests, errors, queueDepth, busyFraction };
}

/**
 * Draws at most MAX_LATENCY_SAMPLES latencies and spreads `count` requests over them as
 * integer weights, so percentiles stay right and the work stays bounded at high rates.
 */
function recordLatencies(count: number, recorder: LatencyRecorder, drawMs: () => number): void {
  if (count <= 0) return;
  const samples = Math.min(count, MAX_LATENCY_SAMPLES);
  const weight = Math.floor(count / samples);
  const heavier = count % samples;
  for (let i = 0; i < samples; i++) recorder.record(drawMs(), weight + (i < heavier ? 1 : 0));
}
