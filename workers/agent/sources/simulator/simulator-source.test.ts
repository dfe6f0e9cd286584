import { describe, expect, it } from 'vitest';
import { DEMO_NODES, type DemoNode } from '../../../../lib/demo-fleet';
import { LatencyDistribution } from '../../../../lib/latency-histogram';
import { type Assignments, ZTelemetryFrame } from '../../../../lib/protocol/agent';
import { simulatedNode } from './simulated-node';
import { SimulatorSource } from './simulator-source';

const node = DEMO_NODES[0] as DemoNode;

/** A source on a fake clock that advances one interval per sample. */
function sourceFor(target: DemoNode, seed = 1) {
  let nowMs = 1_800_000_000_000;
  const source = new SimulatorSource({ node: target, seed, now: () => nowMs });
  const sample = async (intervalMs = 1000) => {
    nowMs += intervalMs;
    return source.sample(intervalMs);
  };
  return { source, sample };
}

function chatOn(gpus: string[], totalGpus: number): Assignments {
  return {
    gpus: node.gpuUuids.map((uuid) => ({
      uuid,
      deploymentId: gpus.includes(uuid) ? 'dep-chat' : null,
      jobId: null,
    })),
    deployments: [
      { id: 'dep-chat', name: 'chat-70b', gpusPerReplica: 4, totalGpus, sloP95Ms: 1200 },
      // Served elsewhere in the fleet: no GPUs here, so no sample from this node.
      { id: 'dep-embed', name: 'embed-small', gpusPerReplica: 1, totalGpus: 16, sloP95Ms: 60 },
    ],
  };
}

describe('SimulatorSource', () => {
  it('reports the demo node’s GPUs as its inventory', async () => {
    const inventory = await sourceFor(node).source.inventory();
    expect(inventory.map((gpu) => gpu.uuid)).toEqual(node.gpuUuids);
    expect(inventory.map((gpu) => gpu.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(inventory.map((gpu) => gpu.name))).toEqual(new Set([node.gpuModel.name]));
  });

  it('shows idle GPUs and no deployments before any assignment', async () => {
    const { sample } = sourceFor(node);
    const { gpus, deployments } = await sample();
    expect(gpus).toHaveLength(8);
    expect(deployments).toEqual([]);
    for (const gpu of gpus) {
      expect(gpu.utilizationPct).toBeLessThanOrEqual(2);
      expect(gpu.smClockMHz).toBeLessThan(600);
      expect(gpu.powerW).toBeLessThan(100);
    }
  });

  it('serves assigned deployments under the server’s ids and loads their GPUs', async () => {
    const { source, sample } = sourceFor(node);
    source.applyAssignments(chatOn(node.gpuUuids, 8));
    let last = await sample();
    for (let i = 0; i < 30; i++) last = await sample();
    expect(ZTelemetryFrame.safeParse({ seq: 1, sampledAt: 1, intervalMs: 1000, ...last }).success).toBe(true);
    expect(last.deployments.map((d) => d.deploymentId)).toEqual(['dep-chat']);
    const [chat] = last.deployments;
    expect(chat?.requests).toBeGreaterThan(5);
    expect(chat?.latencyMs.count).toBe((chat?.requests ?? 0) - (chat?.errors ?? 0));
    for (const gpu of last.gpus) {
      expect(gpu.utilizationPct).toBeGreaterThan(60);
      // 70B weights in fp16 over 4 GPUs are ~33 GiB each, before any KV cache.
      expect(gpu.memoryUsedMiB).toBeGreaterThan(34_000);
      expect(gpu.powerW).toBeGreaterThan(400);
      expect(gpu.smClockMHz).toBeGreaterThan(1500);
    }
  });

  it('gives chat-70b a lower p95 when the server doubles its GPUs', async () => {
    const p95With = async (totalGpus: number) => {
      const { source, sample } = sourceFor(node, 5);
      // This node holds 8 of them either way; the rest of the fleet shares the load.
      source.applyAssignments(chatOn(node.gpuUuids, totalGpus));
      const merged = new LatencyDistribution();
      for (let i = 0; i < 300; i++) {
        const { deployments } = await sample();
        for (const d of deployments) merged.addWire(d.latencyMs);
      }
      return merged.quantile(0.95) ?? 0;
    };
    const on8 = await p95With(8);
    const on16 = await p95With(16);
    expect(on8).toBeGreaterThan(1200);
    expect(on16).toBeLessThan(1200);
  });

  it('reports a deployment it has no spec for with the generic model', async () => {
    const { source, sample } = sourceFor(node);
    source.applyAssignments({
      gpus: node.gpuUuids.map((uuid, i) => ({ uuid, deploymentId: i < 2 ? 'dep-new' : null, jobId: null })),
      deployments: [
        { id: 'dep-new', name: 'brand-new-model', gpusPerReplica: 1, totalGpus: 4, sloP95Ms: 500 },
      ],
    });
    let requests = 0;
    for (let i = 0; i < 200; i++) requests += (await sample()).deployments[0]?.requests ?? 0;
    // 10 rps spread over 4 replicas, two of them here: about 5 requests a second.
    expect(requests / 200).toBeGreaterThan(4);
    expect(requests / 200).toBeLessThan(6);
  });

  it('keeps training GPUs busy, with occasional data-loader stalls', async () => {
    const { source, sample } = sourceFor(node, 3);
    source.applyAssignments({
      gpus: node.gpuUuids.map((uuid) => ({ uuid, deploymentId: null, jobId: 'job-1' })),
      deployments: [],
    });
    const utilization: number[] = [];
    for (let i = 0; i < 1200; i++) utilization.push((await sample()).gpus[0]?.utilizationPct ?? -1);
    const busy = utilization.filter((u) => u >= 88 && u <= 99).length;
    const stalled = utilization.filter((u) => u > 15 && u < 45).length;
    expect(busy / utilization.length).toBeGreaterThan(0.8);
    expect(stalled).toBeGreaterThan(0);
    expect(busy + stalled).toBe(utilization.length);
  });

  it('invents stable GPUs for a hostname outside the demo fleet', () => {
    const a = simulatedNode('lab-box-7');
    expect(a.gpuUuids).toHaveLength(8);
    expect(new Set(a.gpuUuids).size).toBe(8);
    expect(simulatedNode('lab-box-7').gpuUuids).toEqual(a.gpuUuids);
    expect(simulatedNode('lab-box-8').gpuUuids).not.toEqual(a.gpuUuids);
    expect(simulatedNode(node.hostname)).toBe(node);
  });
});
