import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import { LatencyRecorder } from '../../lib/latency-histogram';
import type { TelemetryFrame } from '../../lib/protocol/agent';
import { runOnce } from '../../server/jobs/scheduler';
import { telemetryRetentionJob } from '../../server/jobs/telemetry-retention';
import { gpuHistory, latencyHistory } from '../../server/services/fleet/queries';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Stored history: 10 s rollups from frames, 1 min rollups from those, percentiles over any
 * window from merged sketches, and retention.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** Deterministic heavy-tailed latencies, so the exact percentiles are known. */
function latencies(seed: number, count: number): number[] {
  let x = seed;
  return Array.from({ length: count }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const u = x / 2 ** 31;
    return 20 + 2000 * u ** 6; // mostly fast, a long tail
  });
}

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!;
}

describe('telemetry history', () => {
  it('answers p50/p95/p99 over a window from merged sketches, at 10 s and 1 min resolution', async () => {
    const { runtime } = server;
    const node = DEMO_NODES[0]!;
    const nodeId = [...runtime.catalog.nodes.values()].find((n) => n.hostname === node.hostname)!.id;
    const gpuIds = node.gpuUuids.map((uuid) => runtime.catalog.gpuIdByUuid.get(uuid)!);
    const deploymentId = [...runtime.catalog.deployments.values()].find((d) => d.name === 'chat-70b')!.id;

    // Three minutes of 1 s frames, ten minutes ago, each with 50 latencies.
    const start = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
    const all: number[] = [];
    for (let i = 0; i < 180; i++) {
      const recorder = new LatencyRecorder();
      const values = latencies(i + 1, 50);
      for (const v of values) recorder.record(v);
      all.push(...values);
      const frame: TelemetryFrame = {
        seq: i + 1,
        sampledAt: start + i * 1000,
        intervalMs: 1000,
        gpus: gpuIds.map((_, g) => ({
          uuid: node.gpuUuids[g]!,
          utilizationPct: i < 90 ? 10 : 90,
          memoryUsedMiB: 1000,
          memoryTotalMiB: 80000,
          powerW: 300,
          temperatureC: 60,
          smClockMHz: 1800,
          xidErrors: 0,
          eccErrors: 0,
          remappedRowsPending: false,
          remappedRowsFailed: false,
        })),
        deployments: [{ deploymentId, requests: 50, errors: 1, queueDepth: 2, latencyMs: recorder.drain() }],
      };
      expect((await runtime.ingest.submit(nodeId, frame, gpuIds)).ok).toBe(true);
    }
    await runtime.ingest.settled();
    await runtime.rollups.flush({ all: true });
    await runtime.minuteRollups.run();

    const db = server.database.db;
    expect(await db.deploymentRollup.count({ where: { deploymentId, resolutionS: 10 } })).toBe(18);
    expect(await db.deploymentRollup.count({ where: { deploymentId, resolutionS: 60 } })).toBe(3);

    for (const window of ['15m', '24h'] as const) {
      const history = await latencyHistory(db, deploymentId, window);
      expect(history.summary.requests).toBe(all.length);
      for (const [q, key] of [
        [0.5, 'p50'],
        [0.95, 'p95'],
        [0.99, 'p99'],
      ] as const) {
        const exact = exactQuantile(all, q);
        // Within the sketch's 1 % relative error (plus rank rounding).
        expect(Math.abs(history.summary[key]! - exact) / exact, `${window} ${key}`).toBeLessThan(0.02);
      }
      const rps = history.points.reduce((s, p) => s + p.requestsPerSecond, 0) / history.points.length;
      expect(rps).toBeCloseTo(50, 5);
    }

    // GPU history: the minute rows keep min / max / mean of their 10 s rows.
    const gpu = await gpuHistory(db, gpuIds[0]!, '24h');
    expect(gpu.points).toHaveLength(3);
    expect(gpu.points[0]).toMatchObject({ utilMin: 10, utilMax: 10 });
    expect(gpu.points[1]).toMatchObject({ utilMin: 10, utilMax: 90, utilMean: 50 });
    expect(gpu.points[2]).toMatchObject({ utilMin: 90, utilMax: 90 });
  });

  it('deletes rollups past their retention and keeps the rest', async () => {
    const db = server.database.db;
    const gpu = (await db.gpu.findFirstOrThrow()).id;
    const row = (resolutionS: number, ageMs: number) => ({
      gpuId: gpu,
      resolutionS,
      bucketStart: new Date(Math.floor((Date.now() - ageMs) / 60_000) * 60_000),
      samples: 1,
      utilMin: 1,
      utilMean: 1,
      utilMax: 1,
      memUsedMean: 1,
      memUsedMax: 1,
      powerMean: 1,
      powerMax: 1,
      tempMean: 1,
      tempMax: 1,
      smClockMean: 1,
    });
    const hour = 3600_000;
    await db.gpuRollup.createMany({
      data: [row(10, 49 * hour), row(10, 47 * hour), row(60, 31 * 24 * hour), row(60, 29 * 24 * hour)],
    });
    await runOnce(server.runtime, telemetryRetentionJob.name, () =>
      telemetryRetentionJob.run(server.runtime),
    );
    const left = await db.gpuRollup.findMany({
      where: { gpuId: gpu, bucketStart: { lt: new Date(Date.now() - hour) } },
    });
    expect(
      left.map((r) => [r.resolutionS, Math.round((Date.now() - r.bucketStart.getTime()) / hour)]).sort(),
    ).toEqual([
      [10, 47],
      [60, 29 * 24],
    ]);
  });
});
