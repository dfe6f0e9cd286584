import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_NODES, type DemoNode } from '../../../../lib/demo-fleet';
import { LatencyDistribution } from '../../../../lib/latency-histogram';
import type { Assignments } from '../../../../lib/protocol/agent';
import { type SimulatedDeploymentSpec, SimulatorSource } from '../../sources/simulator/simulator-source';

const node = DEMO_NODES[0] as DemoNode;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A deployment with no simulated traffic unless `baseRps` says so: what is seen is the real load. */
function spec(baseRps: number): SimulatedDeploymentSpec {
  return { name: 'lab-model', baseRps, replicaCapacityRps: 100, serviceMs: 20, model: { parametersB: 1 } };
}

/** `gpus` of the node's GPUs serve the deployment, two per replica. */
function servingOn(gpus: number): Assignments {
  return {
    gpus: node.gpuUuids.map((uuid, i) => ({ uuid, deploymentId: i < gpus ? 'dep-lab' : null, jobId: null })),
    deployments: [{ id: 'dep-lab', name: 'lab-model', gpusPerReplica: 2, totalGpus: gpus, sloP95Ms: 500 }],
  };
}

function sourceWith(baseRps: number) {
  let nowMs = 1_800_000_000_000;
  const source = new SimulatorSource({ node, seed: 5, deployments: [spec(baseRps)], now: () => nowMs });
  cleanups.push(() => source.close());
  let changes = 0;
  source.onInferenceEndpointsChange(() => changes++);
  const sample = (intervalMs = 1000) => {
    nowMs += intervalMs;
    return source.sample(intervalMs);
  };
  return { source, sample, changes: () => changes };
}

async function waitFor<T>(read: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function post(url: string): Promise<{ status: number; ms: number; body: unknown }> {
  const started = performance.now();
  const response = await request(`${url}/v1/completions`, { method: 'POST', body: '{"prompt":"hi"}' });
  const body = await response.body.json();
  return { status: response.statusCode, ms: performance.now() - started, body };
}

describe('simulated model servers', () => {
  it('answer real HTTP, queue past their slots, and put real requests into the deployment’s telemetry', async () => {
    const { source, sample, changes } = sourceWith(0);
    source.applyAssignments(servingOn(4));
    const endpoint = await waitFor(() => source.inferenceEndpoints()[0], 'the endpoint');
    expect(endpoint).toMatchObject({ deploymentId: 'dep-lab', replicas: 2 });
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(changes()).toBe(1);
    // Two replicas × (100 rps × 20 ms) = 4 slots.
    expect(source.modelServer('dep-lab')?.slots).toBe(4);

    const answers = await Promise.all(Array.from({ length: 40 }, () => post(endpoint.url)));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(answers[0]?.body).toMatchObject({ object: 'text_completion', model: 'lab-model' });
    // 40 requests through 4 slots of ~20 ms: the last waited for about nine rounds.
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeGreaterThan(120);

    const { deployments, gpus } = await sample();
    const deployment = deployments.find((d) => d.deploymentId === 'dep-lab');
    expect(deployment?.requests).toBe(40);
    expect(deployment?.errors).toBe(0);
    expect(deployment?.latencyMs.count).toBe(40);
    const latency = LatencyDistribution.fromWire(deployment!.latencyMs);
    expect(latency.quantile(0.99)).toBeGreaterThan(120);
    // 40 requests in a second on replicas of 100 rps: a fifth busy, where idle reads ~1 %.
    expect(gpus[0]!.utilizationPct).toBeGreaterThan(10);
    expect(gpus[7]!.utilizationPct).toBeLessThan(3);
  });

  it('let real load add to the simulated queues and GPU utilization', async () => {
    const quiet = sourceWith(80);
    const loaded = sourceWith(80);
    for (const { source } of [quiet, loaded]) source.applyAssignments(servingOn(4));
    const url = (await waitFor(() => loaded.source.inferenceEndpoints()[0], 'the endpoint')).url;
    await Promise.all([quiet.sample(), loaded.sample()]);

    // 120 extra requests in the interval: 60 rps more on each 100 rps replica already 40 % busy.
    await Promise.all(Array.from({ length: 120 }, () => post(url)));
    const [calm, busy] = await Promise.all([quiet.sample(), loaded.sample()]);
    const calmSample = calm.deployments[0]!;
    const busySample = busy.deployments[0]!;
    expect(busySample.queueDepth).toBeGreaterThan(10 * calmSample.queueDepth);
    expect(busy.gpus[0]!.utilizationPct).toBeGreaterThan(calm.gpus[0]!.utilizationPct + 30);
    // The simulated traffic is still counted once: real requests are added, not double-counted.
    expect(busySample.requests - 120).toBeGreaterThan(calmSample.requests * 0.7);
    expect(busySample.requests - 120).toBeLessThan(calmSample.requests * 1.3);
    for (const sample of [calmSample, busySample]) {
      expect(sample.latencyMs.count).toBe(sample.requests - sample.errors);
    }
  });

  it('follow replica changes, stop with their deployment, and stall when told to', async () => {
    const { source, changes } = sourceWith(0);
    source.applyAssignments(servingOn(4));
    const first = await waitFor(() => source.inferenceEndpoints()[0], 'the endpoint');

    source.applyAssignments(servingOn(2));
    expect(source.inferenceEndpoints()).toEqual([{ ...first, replicas: 1 }]);
    expect(source.modelServer('dep-lab')?.slots).toBe(2);
    expect(changes()).toBe(2);

    source.modelServer('dep-lab')?.stallFor(300);
    const stalled = await post(first.url);
    expect(stalled.status).toBe(200);
    expect(stalled.ms).toBeGreaterThanOrEqual(290);

    // One GPU is short of a replica: nothing to serve with, so no endpoint.
    source.applyAssignments(servingOn(1));
    expect(source.inferenceEndpoints()).toEqual([]);
    expect(changes()).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(post(first.url)).rejects.toThrow();
  });
});
