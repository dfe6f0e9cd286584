import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import { Agent } from '../../workers/agent/agent';
import { silentLog } from '../../workers/agent/log';
import { SimulatorSource } from '../../workers/agent/sources/simulator/simulator-source';
import { enrollmentTokenForHost, startTestServer, type TestServer } from '../support/server';

/** The real agent with its simulator source, against the real server and Postgres. */
let server: TestServer;
let dataDir: string;

beforeAll(async () => {
  server = await startTestServer();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sy-agent-'));
});
afterAll(async () => {
  await server?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a simulated agent streaming to the server', () => {
  it('delivers every frame across a dropped connection, with none lost or counted twice', async () => {
    const node = DEMO_NODES[0]!;
    const agent = new Agent({
      serverUrl: server.url,
      hostname: node.hostname,
      dataDir: path.join(dataDir, node.hostname),
      enrollmentToken: await enrollmentTokenForHost(server, node.hostname),
      intervalMs: 100,
      source: new SimulatorSource({ node }),
      log: silentLog,
    });
    await agent.start();
    const { runtime } = server;
    await until(() => agent.stats().acked >= 10);

    // The node's GPUs are live, and the deployment it serves reports latency.
    const nodeId = [...runtime.catalog.nodes.values()].find((n) => n.hostname === node.hostname)!.id;
    expect(runtime.telemetry.gpuLivePoints(Date.now(), nodeId)).toHaveLength(8);
    const chat = [...runtime.catalog.deployments.values()].find((d) => d.name === 'chat-70b')!;
    await until(() => runtime.telemetry.latencyPoint(chat.id).p95 !== null);
    const latency = runtime.telemetry.latencyPoint(chat.id);
    expect(latency.requestsPerSecond).toBeGreaterThan(0);
    expect(latency.p95!).toBeGreaterThanOrEqual(latency.p50!);

    // Drop the connection from the server side mid-stream; the agent reconnects and replays.
    const before = agent.stats().acked;
    runtime.io.of('/agent').disconnectSockets(true);
    await until(() => agent.stats().acked >= before + 20);
    await agent.stop();
    const { seq, buffered, dropped } = agent.stats();
    expect(buffered).toBe(0);
    expect(dropped).toBe(0);
    expect(runtime.sequences.lastCommitted(nodeId)).toBe(seq);

    // Each GPU's stored rollups hold exactly one sample per frame: no gap, no double count.
    await runtime.ingest.settled();
    await runtime.rollups.flush({ all: true });
    await runtime.minuteRollups.run();
    // Folded into rollups, the journal is empty, and the node's last sequence is stored.
    expect(await server.database.db.telemetryJournal.count()).toBe(0);
    const stored = await server.database.db.node.findUniqueOrThrow({ where: { id: nodeId } });
    expect(Number(stored.lastSeq)).toBe(seq);
    const gpu = await server.database.db.gpu.findUniqueOrThrow({ where: { uuid: node.gpuUuids[0]! } });
    const tenSecond = await server.database.db.gpuRollup.aggregate({
      where: { gpuId: gpu.id, resolutionS: 10 },
      _sum: { samples: true },
    });
    expect(tenSecond._sum.samples).toBe(seq);
    const perMinute = await server.database.db.gpuRollup.aggregate({
      where: { gpuId: gpu.id, resolutionS: 60 },
      _sum: { samples: true },
    });
    expect(perMinute._sum.samples).toBe(seq);
  });
});
