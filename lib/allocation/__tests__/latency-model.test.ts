import { describe, expect, it } from 'vitest';
import { LOAD_WAVE_PERIOD_SECONDS } from '../../../workers/agent/sources/simulator/queueing-model';
import { hashString } from '../../../workers/agent/sources/simulator/random';
import { SimulatorSource } from '../../../workers/agent/sources/simulator/simulator-source';
import { DEMO_DEPLOYMENTS, DEMO_NODES } from '../../demo-fleet';
import { LatencyDistribution } from '../../latency-histogram';
import {
  type DeploymentLoad,
  fitLatency,
  isOverloaded,
  MAX_STABLE_RHO,
  OVERLOAD_SLO_FACTOR,
  predictDeploymentP95,
  predictedRho,
  predictP95Ms,
} from '../latency-model';

const chat = DEMO_DEPLOYMENTS.find((d) => d.name === 'chat-70b')!;

/**
 * chat-70b on `gpus` GPUs of the first demo nodes, simulated for `seconds` at a moment the
 * simulator's load wave crosses its mean and with no noise: the steady state at base load.
 */
async function simulateChat(gpus: number, seconds = 240): Promise<DeploymentLoad> {
  const phase = (hashString(chat.name) / 2 ** 32) * 2 * Math.PI;
  // sin(2πt/P + phase) = 0 at t = (2π - phase)·P/2π; a whole number of periods later keeps it.
  const atMeanLoadS = ((2 * Math.PI - phase) * LOAD_WAVE_PERIOD_SECONDS) / (2 * Math.PI);
  const nowMs = Math.round((atMeanLoadS + 1_000_000 * LOAD_WAVE_PERIOD_SECONDS) * 1000);
  const nodes = DEMO_NODES.slice(0, Math.ceil(gpus / 8));
  const sources = nodes.map((node, n) => {
    const source = new SimulatorSource({ node, now: () => nowMs, loadNoise: 0, serveHttp: false });
    const here = Math.min(8, gpus - n * 8);
    source.applyAssignments({
      gpus: node.gpuUuids.map((uuid, i) => ({ uuid, deploymentId: i < here ? 'chat' : null, jobId: null })),
      deployments: [
        { id: 'chat', name: chat.name, gpusPerReplica: 4, totalGpus: gpus, sloP95Ms: chat.sloP95Ms },
      ],
    });
    return { source, here };
  });
  const latency = new LatencyDistribution();
  let requests = 0;
  let utilizationSum = 0;
  for (let s = 0; s < seconds; s++) {
    for (const { source, here } of sources) {
      const sample = await source.sample(1000);
      for (const d of sample.deployments) {
        latency.addWire(d.latencyMs);
        requests += d.requests;
      }
      for (const gpu of sample.gpus.slice(0, here)) utilizationSum += gpu.utilizationPct;
    }
  }
  return {
    p95Ms: latency.quantile(0.95),
    requestsPerSecond: requests / seconds,
    utilizationPct: utilizationSum / (seconds * gpus),
    replicas: gpus / 4,
    sloP95Ms: chat.sloP95Ms,
  };
}

describe('predictP95Ms against the demo simulator', () => {
  it('predicts chat-70b at 12 and 16 GPUs from what 8 GPUs show, within 10 %', async () => {
    const [at8, at12, at16] = await Promise.all([simulateChat(8), simulateChat(12), simulateChat(16)]);
    // As seeded, two replicas run near capacity and p95 is far over the SLO.
    expect(at8.p95Ms!).toBeGreaterThan(2 * chat.sloP95Ms);
    expect(at12.p95Ms!).toBeLessThan(chat.sloP95Ms);

    const from8to12 = predictP95Ms(at8, 3)!;
    const from8to16 = predictP95Ms(at8, 4)!;
    expect(Math.abs(from8to12 / at12.p95Ms! - 1)).toBeLessThan(0.1);
    expect(Math.abs(from8to16 / at16.p95Ms! - 1)).toBeLessThan(0.1);
    // …and back down: from 12 GPUs to 8 and up to 16.
    expect(Math.abs(predictP95Ms(at12, 2)! / at8.p95Ms! - 1)).toBeLessThan(0.1);
    expect(Math.abs(predictP95Ms(at12, 4)! / at16.p95Ms! - 1)).toBeLessThan(0.1);
    // The replica count it runs now predicts about what it shows now (exactly, away from
    // saturation, where the service time is not capped).
    expect(Math.abs(predictP95Ms(at8, 2)! / at8.p95Ms! - 1)).toBeLessThan(0.02);
    expect(predictP95Ms(at12, 3)).toBeCloseTo(at12.p95Ms!, 6);
  });
});

describe('predictP95Ms', () => {
  const busy: DeploymentLoad = {
    p95Ms: 900,
    requestsPerSecond: 40,
    utilizationPct: 74,
    replicas: 4,
    sloP95Ms: 1000,
  };

  it('answers for a planner deployment given its replicas now', () => {
    const { replicas, ...deployment } = busy;
    expect(predictDeploymentP95(deployment, replicas, 6)).toBe(predictP95Ms(busy, 6));
  });

  it('never rises with more replicas and never falls below the service time', () => {
    let previous = Number.POSITIVE_INFINITY;
    for (let r = 1; r <= 32; r++) {
      const p95 = predictP95Ms(busy, r)!;
      expect(p95).toBeLessThanOrEqual(previous);
      previous = p95;
    }
    const fit = fitLatency(busy);
    if (fit.kind !== 'queue') throw new Error(`expected a queue fit, got ${fit.kind}`);
    expect(previous).toBeGreaterThanOrEqual(fit.meanServiceMs * 1.5 - 1e-9);
  });

  it('predicts an overload as a finite penalty of at least 10× the SLO, worse with fewer replicas', () => {
    // 4 replicas at ρ ≈ 0.8 → 3 replicas at ρ ≈ 1.07.
    const fit = fitLatency(busy);
    expect(isOverloaded(fit, 3)).toBe(true);
    expect(isOverloaded(fit, 4)).toBe(false);
    const three = predictP95Ms(busy, 3)!;
    const two = predictP95Ms(busy, 2)!;
    expect(Number.isFinite(three)).toBe(true);
    expect(three).toBeGreaterThanOrEqual(OVERLOAD_SLO_FACTOR * busy.sloP95Ms);
    expect(two).toBeGreaterThan(three);
    expect(predictP95Ms(busy, 0)!).toBeGreaterThan(two);
  });

  it('counts zero replicas with traffic as overloaded, however light the traffic', () => {
    const light = { ...busy, utilizationPct: 2, requestsPerSecond: 1 };
    expect(predictedRho(fitLatency(light), 0)).toBeGreaterThanOrEqual(MAX_STABLE_RHO);
    expect(predictP95Ms(light, 0)!).toBeGreaterThanOrEqual(OVERLOAD_SLO_FACTOR * light.sloP95Ms);
  });

  it('keeps the latency of a deployment without traffic, and cannot predict one with traffic but no p95', () => {
    const silent = { ...busy, requestsPerSecond: 0, p95Ms: null };
    expect(fitLatency(silent).kind).toBe('idle');
    expect(predictP95Ms(silent, 1)).toBeNull();
    expect(predictP95Ms({ ...busy, requestsPerSecond: 0, p95Ms: 20 }, 1)).toBe(20);
    expect(predictP95Ms({ ...busy, p95Ms: null }, 5)).toBeNull();
    expect(predictP95Ms({ ...busy, replicas: 0 }, 5)).toBeNull();
  });

  it('without utilization, scales the queueing part of p95 like an M/M/1 queue', () => {
    const blind = { ...busy, utilizationPct: null, p95Ms: 2000 };
    const fit = fitLatency(blind);
    expect(fit.kind).toBe('scaled');
    // Service assumed at half the SLO (500 ms) → ρ = 1 - 500/2000 = 0.75.
    expect(predictedRho(fit, 4)).toBeCloseTo(0.75, 6);
    expect(predictP95Ms(blind, 4)).toBeCloseTo(2000, 6);
    // 8 replicas: ρ' = 0.375 → 500 / 0.625 = 800 ms.
    expect(predictP95Ms(blind, 8)).toBeCloseTo(800, 6);
    expect(predictP95Ms(blind, 64)).toBeGreaterThanOrEqual(500);
  });
});
