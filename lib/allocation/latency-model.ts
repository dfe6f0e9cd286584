/**
 * Predicts a deployment's p95 latency at another replica count from live telemetry alone
 * (p95 now, requests/s, mean GPU utilization, replicas now). The planner compares these
 * predictions, so they have to be cheap, monotone in the replica count, and explainable:
 *
 * - Each replica is a queue. Its busy fraction ρ is read from GPU utilization: a model
 *   server that is busy all the time reads about SATURATED_UTILIZATION_PCT, not 100 %,
 *   since kernel launch gaps and host work keep the SMs from being fully occupied.
 * - A replica's capacity follows: it serves (requests/s per replica) / ρ at most.
 * - The wait for a free replica is M/M/1: a request waits at all with probability ρ, and
 *   then for an exponential time with rate capacity·(1-ρ), so the wait's 95th percentile is
 *   ln(ρ / 0.05) / (capacity·(1-ρ)).
 * - The rest is service time, whose p95 is taken as SERVICE_P95_TO_MEAN × its mean. A
 *   request's p95 is the mean service time plus the two tails' excesses (the wait's p95,
 *   the service p95 over its mean) added in quadrature, since a request rarely meets both
 *   at once: p95 ≈ s + √(w95² + ((k-1)·s)²). Today's p95 and ρ fix the mean service time
 *   s (near saturation, capped: see QUEUE_DOMINATED_RHO); no prediction goes below the
 *   service p95 k·s.
 * - Spreading the same traffic over R' replicas instead of R scales ρ by R/R'. At ρ' near
 *   1 the queue has no steady state: the prediction is then a large finite penalty, at
 *   least OVERLOAD_SLO_FACTOR × the SLO and growing with ρ', so a planner can still
 *   compare alternatives.
 *
 * Checked against the demo simulator (workers/agent/sources/simulator), which draws latency
 * exactly this way; see lib/allocation/__tests__/latency-model.test.ts.
 */

import type { PlannerDeployment } from './types';

/** GPU utilization a replica shows when it never rests. */
export const SATURATED_UTILIZATION_PCT = 92;
/** At or above this predicted busy fraction, a deployment counts as overloaded. */
export const MAX_STABLE_RHO = 0.98;
/** An overloaded deployment is predicted at this multiple of its SLO (or worse). */
export const OVERLOAD_SLO_FACTOR = 10;
/** The quantile the model speaks about: p95 leaves 5 % in the tail. */
const TAIL_SHARE = 0.05;
/**
 * Ratio of the service time's p95 to its mean. 1.5 is a lognormal spread of σ ≈ 0.25, typical
 * of a model server with batching; with it the demo simulator's p95 is predicted within ~5 %.
 */
export const SERVICE_P95_TO_MEAN = 1.5;
/** Without utilization, the service part of p95 is assumed at most this share of the SLO. */
const ASSUMED_SERVICE_SHARE_OF_SLO = 0.5;
/**
 * From this busy fraction up, the wait dominates p95 and bursts of backlog (load peaks past
 * capacity) inflate it beyond the steady-state formula, so what is left for service time is
 * unreliable. The service p95 is then taken as at most this share of the SLO: an SLO is set
 * above what the model needs unloaded, or no allocation could ever meet it.
 */
const QUEUE_DOMINATED_RHO = 0.9;
const QUEUE_DOMINATED_SERVICE_SHARE_OF_SLO = 0.75;

/** What the model reads about a deployment. */
export type DeploymentLoad = {
  p95Ms: number | null;
  requestsPerSecond: number;
  utilizationPct: number | null;
  /** Whole replicas serving now. */
  replicas: number;
  sloP95Ms: number;
};

/**
 * What the telemetry says about a deployment's replicas, fitted once and then asked for
 * any replica count.
 *  - `queue`: ρ from utilization, capacity and service time derived as described above.
 *  - `scaled`: no utilization; ρ from p95 alone, assuming service time is at most half
 *    the SLO, and response time scaling like (1-ρ)/(1-ρ') (plain M/M/1).
 *  - `idle`: no traffic, so replicas can go without changing latency.
 *  - `unknown`: traffic but nothing to fit (no p95, or no replica serving it).
 */
export type LatencyFit =
  | {
      kind: 'queue';
      sloP95Ms: number;
      replicas: number;
      rho: number;
      capacityRpsPerReplica: number;
      meanServiceMs: number;
    }
  | { kind: 'scaled'; sloP95Ms: number; replicas: number; rho: number; serviceP95Ms: number }
  | { kind: 'idle'; sloP95Ms: number; p95Ms: number | null }
  | { kind: 'unknown'; sloP95Ms: number };

export function fitLatency(load: DeploymentLoad): LatencyFit {
  const { sloP95Ms, replicas, p95Ms } = load;
  const rps = Math.max(0, load.requestsPerSecond);
  if (rps === 0) return { kind: 'idle', sloP95Ms, p95Ms };
  if (p95Ms === null || !(p95Ms > 0) || replicas < 1) return { kind: 'unknown', sloP95Ms };

  if (load.utilizationPct === null) {
    const serviceP95Ms = Math.min(p95Ms, sloP95Ms * ASSUMED_SERVICE_SHARE_OF_SLO);
    const rho = clamp(1 - serviceP95Ms / p95Ms, 0, MAX_STABLE_RHO);
    return { kind: 'scaled', sloP95Ms, replicas, rho, serviceP95Ms };
  }

  // A sliver of utilization keeps the capacity finite for a nearly idle deployment.
  const rho = clamp(load.utilizationPct / SATURATED_UTILIZATION_PCT, 0.001, 0.99);
  let capacityRpsPerReplica = rps / replicas / rho;
  const waitMs = waitP95Ms(rho, capacityRpsPerReplica);
  let meanServiceMs = meanServiceFor(p95Ms, waitMs);
  if (rho >= QUEUE_DOMINATED_RHO) {
    const assumedMs = (QUEUE_DOMINATED_SERVICE_SHARE_OF_SLO * sloP95Ms) / SERVICE_P95_TO_MEAN;
    meanServiceMs = meanServiceMs > 0 ? Math.min(meanServiceMs, assumedMs) : assumedMs;
  } else if (waitMs > p95Ms) {
    // Requests wait less than a single M/M/1 server at this ρ would make them (a replica
    // that serves several requests at once): the replica is faster than it looks, by as much.
    capacityRpsPerReplica *= waitMs / p95Ms;
  }
  return { kind: 'queue', sloP95Ms, replicas, rho, capacityRpsPerReplica, meanServiceMs };
}

/** Combines mean service time and the wait's p95 into a request's p95 (see the module comment). */
function combinedP95Ms(meanServiceMs: number, waitMs: number): number {
  const excess = (SERVICE_P95_TO_MEAN - 1) * meanServiceMs;
  return meanServiceMs + Math.sqrt(waitMs * waitMs + excess * excess);
}

/** Inverse of combinedP95Ms in the mean service time (the root that is ≤ p95). */
function meanServiceFor(p95Ms: number, waitMs: number): number {
  if (p95Ms <= waitMs) return 0;
  const c = 1 - (SERVICE_P95_TO_MEAN - 1) ** 2;
  return (p95Ms - Math.sqrt(p95Ms * p95Ms - c * (p95Ms * p95Ms - waitMs * waitMs))) / c;
}

/** 95th percentile of the M/M/1 wait, ms: P(wait > t) = ρ·e^(-capacity·(1-ρ)·t). */
function waitP95Ms(rho: number, capacityRps: number): number {
  if (rho <= TAIL_SHARE) return 0;
  return (Math.log(rho / TAIL_SHARE) / (capacityRps * (1 - rho))) * 1000;
}

/**
 * Busy fraction each replica would have with `replicasAfter` replicas; null when unknown.
 * With traffic and no replica the deployment is overloaded however light the traffic; it
 * then counts as half a replica, so that the penalty is finite but grows with the load.
 */
export function predictedRho(fit: LatencyFit, replicasAfter: number): number | null {
  if (fit.kind === 'idle') return 0;
  if (fit.kind === 'unknown') return null;
  if (replicasAfter < 1) return Math.max(MAX_STABLE_RHO, 2 * fit.rho * fit.replicas);
  return (fit.rho * fit.replicas) / replicasAfter;
}

/** True when `replicasAfter` replicas cannot keep up with the traffic. */
export function isOverloaded(fit: LatencyFit, replicasAfter: number): boolean {
  const rho = predictedRho(fit, replicasAfter);
  return rho !== null && rho >= MAX_STABLE_RHO;
}

/** Predicted p95 (ms) with `replicasAfter` whole replicas; null when it cannot be predicted. */
export function predictFromFit(fit: LatencyFit, replicasAfter: number): number | null {
  switch (fit.kind) {
    case 'unknown':
      return null;
    case 'idle':
      return replicasAfter >= 1 ? fit.p95Ms : null;
    case 'scaled': {
      const stable = (rho: number) => Math.max(fit.serviceP95Ms, fit.serviceP95Ms / (1 - rho));
      const rho = predictedRho(fit, replicasAfter)!;
      if (rho >= MAX_STABLE_RHO) return overloadedMs(fit.sloP95Ms, stable(MAX_STABLE_RHO), rho);
      return stable(rho);
    }
    case 'queue': {
      const stable = (rho: number) =>
        combinedP95Ms(fit.meanServiceMs, waitP95Ms(rho, fit.capacityRpsPerReplica));
      const rho = predictedRho(fit, replicasAfter)!;
      if (rho >= MAX_STABLE_RHO) return overloadedMs(fit.sloP95Ms, stable(MAX_STABLE_RHO), rho);
      return stable(rho);
    }
  }
}

/**
 * Worse than any stable prediction, and growing with the overload, so predictions never
 * improve by losing replicas and a planner still sees what each replica is worth.
 */
function overloadedMs(sloP95Ms: number, worstStableMs: number, rho: number): number {
  return Math.max(OVERLOAD_SLO_FACTOR * sloP95Ms, worstStableMs) * (rho / MAX_STABLE_RHO);
}

/** Predicted p95 (ms) of a deployment if it ran `replicasAfter` whole replicas. */
export function predictP95Ms(load: DeploymentLoad, replicasAfter: number): number | null {
  return predictFromFit(fitLatency(load), replicasAfter);
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/**
 * A deployment's predicted p95 with `replicasAfter` replicas, from the planner's view of it
 * running `replicasBefore` now (the shape server/services/allocation/effects.ts asks for).
 */
export function predictDeploymentP95(
  deployment: Pick<PlannerDeployment, 'p95Ms' | 'requestsPerSecond' | 'utilizationPct' | 'sloP95Ms'>,
  replicasBefore: number,
  replicasAfter: number,
): number | null {
  return predictP95Ms({ ...deployment, replicas: replicasBefore }, replicasAfter);
}
