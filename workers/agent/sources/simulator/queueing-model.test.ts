import { describe, expect, it } from 'vitest';
import { DEMO_DEPLOYMENTS, type DemoDeployment } from '../../../../lib/demo-fleet';
import { LatencyDistribution, LatencyRecorder } from '../../../../lib/latency-histogram';
import {
  deploymentLoadRps,
  IDLE_REPLICA,
  MAX_BACKLOG_SECONDS,
  MAX_LATENCY_SAMPLES,
  perReplicaArrivalRps,
  type ReplicaState,
  replicaCount,
  stepReplica,
} from './queueing-model';
import { mulberry32 } from './random';

function demo(name: string): DemoDeployment {
  const deployment = DEMO_DEPLOYMENTS.find((d) => d.name === name);
  if (!deployment) throw new Error(`no demo deployment ${name}`);
  return deployment;
}

type Run = {
  p95: number;
  requests: number;
  errors: number;
  histogramCount: number;
  /** p95 of each `windowSec` window, in order. */
  windowP95: number[];
  /** Errors per second, in order. */
  errorsPerSecond: number[];
};

/**
 * Runs a deployment with `totalGpus` GPUs for `seconds` one-second intervals and merges
 * the replicas' histograms the way the server does, so percentiles come from merged
 * distributions rather than averaged percentiles.
 */
function simulate(
  deployment: DemoDeployment,
  totalGpus: number,
  seconds: number,
  options: { wave?: boolean; rps?: number; windowSec?: number; seed?: number } = {},
): Run {
  const rng = mulberry32(options.seed ?? 42);
  const replicas = replicaCount(totalGpus, deployment.gpusPerReplica);
  const states: ReplicaState[] = Array.from({ length: replicas }, () => IDLE_REPLICA);
  const total = new LatencyDistribution();
  let window = new LatencyDistribution();
  const run: Run = { p95: 0, requests: 0, errors: 0, histogramCount: 0, windowP95: [], errorsPerSecond: [] };
  for (let t = 0; t < seconds; t++) {
    const rps =
      options.rps ?? (options.wave ? deploymentLoadRps(deployment.baseRps, t, 0, 0) : deployment.baseRps);
    const load = {
      arrivalRps: perReplicaArrivalRps(rps, replicas),
      capacityRps: deployment.replicaCapacityRps,
      serviceMs: deployment.serviceMs,
    };
    let errorsThisSecond = 0;
    states.forEach((state, i) => {
      const recorder = new LatencyRecorder();
      const step = stepReplica(state, load, 1, rng, recorder);
      states[i] = step.state;
      run.requests += step.requests;
      run.errors += step.errors;
      errorsThisSecond += step.errors;
      const wire = recorder.drain();
      run.histogramCount += wire.count;
      total.addWire(wire);
      window.addWire(wire);
    });
    run.errorsPerSecond.push(errorsThisSecond);
    if (options.windowSec && (t + 1) % options.windowSec === 0) {
      run.windowP95.push(window.quantile(0.95) ?? 0);
      window = new LatencyDistribution();
    }
  }
  run.p95 = total.quantile(0.95) ?? 0;
  return run;
}

describe('queueing model', () => {
  const chat = demo('chat-70b');

  it('gives a lower p95 for the same load on more GPUs, by a clear margin', () => {
    const on8 = simulate(chat, 8, 600);
    const on12 = simulate(chat, 12, 600);
    const on16 = simulate(chat, 16, 600);
    expect(on12.p95).toBeLessThan(on8.p95 * 0.5);
    expect(on16.p95).toBeLessThan(on12.p95 * 0.95);
    expect(on8.p95).toBeGreaterThan(on16.p95 * 2.5);

    // And for a deployment with many small replicas: fewer GPUs, higher p95.
    const rerank = demo('rerank-base');
    const rerankOn3 = simulate(rerank, 3, 300);
    const rerankOn6 = simulate(rerank, 6, 300);
    expect(rerankOn3.p95).toBeGreaterThan(rerankOn6.p95 * 1.5);
  });

  it('puts chat-70b clearly over its SLO on the initial 8 GPUs and under it on 16', () => {
    expect(chat.initialGpus).toBe(8);
    // A full period of the load wave, so the peaks are included.
    const initial = simulate(chat, 8, 600, { wave: true });
    const doubled = simulate(chat, 16, 600, { wave: true, windowSec: 60 });
    expect(initial.p95).toBeGreaterThan(chat.sloP95Ms * 2);
    expect(doubled.p95).toBeLessThan(chat.sloP95Ms * 0.92);
    // Not only on average: every minute stays within the SLO, peaks included.
    expect(Math.max(...doubled.windowP95)).toBeLessThan(chat.sloP95Ms);
  });

  it('rejects requests only once an overloaded replica has filled its backlog', () => {
    // Within capacity, even near it, nothing is rejected however long it runs.
    expect(simulate(chat, 8, 1200).errors).toBe(0);
    expect(simulate(chat, 16, 1200, { wave: true }).errors).toBe(0);

    // One replica (4 GPUs) takes all of chat-70b's load, beyond its capacity: the backlog
    // grows by (λ − μ) a second, is full after 30 s × μ / (λ − μ), and from then on the
    // excess share (λ − μ) / λ of arrivals is rejected.
    const lambda = chat.baseRps;
    const mu = chat.replicaCapacityRps;
    const fullAfterSec = (MAX_BACKLOG_SECONDS * mu) / (lambda - mu);
    const overloaded = simulate(chat, 4, 120);
    expect(
      overloaded.errorsPerSecond.slice(0, Math.floor(fullAfterSec) - 1).every((errors) => errors === 0),
    ).toBe(true);
    expect(overloaded.errorsPerSecond.slice(Math.ceil(fullAfterSec) + 2).every((errors) => errors > 0)).toBe(
      true,
    );
    const late = overloaded.errorsPerSecond.slice(60);
    const lateRejectedShare = late.reduce((a, b) => a + b, 0) / (lambda * late.length);
    const expectedShare = (lambda - mu) / lambda;
    expect(lateRejectedShare).toBeGreaterThan(expectedShare * 0.8);
    expect(lateRejectedShare).toBeLessThan(expectedShare * 1.2);
  });

  it('drains the backlog once load falls below capacity', () => {
    const rng = mulberry32(1);
    const load = { arrivalRps: 15, capacityRps: 12, serviceMs: 600 };
    let state = IDLE_REPLICA;
    for (let t = 0; t < 20; t++) state = stepReplica(state, load, 1, rng, new LatencyRecorder()).state;
    expect(state.backlog).toBeCloseTo(60, 5);
    const relieved = { ...load, arrivalRps: 6 };
    let seconds = 0;
    while (state.backlog > 0 && seconds < 100) {
      state = stepReplica(state, relieved, 1, rng, new LatencyRecorder()).state;
      seconds++;
    }
    expect(seconds).toBe(10);
  });

  it('weights latency samples so the histogram counts every served request', () => {
    const rng = mulberry32(7);
    const recorder = new LatencyRecorder();
    const step = stepReplica(
      IDLE_REPLICA,
      { arrivalRps: 9000, capacityRps: 20_000, serviceMs: 5 },
      1,
      rng,
      recorder,
    );
    const wire = recorder.drain();
    expect(step.requests).toBeGreaterThan(MAX_LATENCY_SAMPLES * 4);
    expect(wire.count).toBe(step.requests - step.errors);
    expect(wire.bins.reduce((sum, [, count]) => sum + count, 0) + wire.zeroCount).toBe(wire.count);

    const run = simulate(chat, 4, 90);
    expect(run.errors).toBeGreaterThan(0);
    expect(run.histogramCount).toBe(run.requests - run.errors);
  });

  it('reports a deeper queue under more load per replica', () => {
    const depthAt = (arrivalRps: number) =>
      stepReplica(
        IDLE_REPLICA,
        { arrivalRps, capacityRps: 12, serviceMs: 600 },
        1,
        mulberry32(3),
        new LatencyRecorder(),
      ).queueDepth;
    expect(depthAt(3)).toBeCloseTo(1 / 3, 5);
    expect(depthAt(6)).toBeCloseTo(1, 5);
    expect(depthAt(11)).toBeCloseTo(11, 5);
    expect(depthAt(11)).toBeGreaterThan(depthAt(6));
  });

  it('is deterministic for a given seed', () => {
    expect(simulate(chat, 8, 120, { seed: 9, wave: true })).toEqual(
      simulate(chat, 8, 120, { seed: 9, wave: true }),
    );
    expect(simulate(chat, 8, 120, { seed: 9 }).p95).not.toBe(simulate(chat, 8, 120, { seed: 10 }).p95);
  });

  it('moves deployment load along a ±15 % wave', () => {
    const values = Array.from({ length: 300 }, (_, t) => deploymentLoadRps(100, t, 0.3, 0));
    expect(Math.max(...values)).toBeCloseTo(115, 0);
    expect(Math.min(...values)).toBeCloseTo(85, 0);
    expect(deploymentLoadRps(100, 0, 0, 0.02)).toBeCloseTo(102, 10);
  });

  it('counts only whole replicas', () => {
    expect(replicaCount(8, 4)).toBe(2);
    expect(replicaCount(7, 4)).toBe(1);
    expect(replicaCount(3, 4)).toBe(0);
    expect(perReplicaArrivalRps(22, 2)).toBe(11);
    expect(perReplicaArrivalRps(22, 0)).toBe(0);
  });
});
