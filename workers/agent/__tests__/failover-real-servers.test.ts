import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../../lib/demo-fleet';
import { parseEnv } from '../../../server/env';
import { type RunningServer, startServer } from '../../../server/main';
import { createReplacementToken } from '../../../server/services/agents/enrollment';
import { createTestDatabase } from '../../../tests/support/database';
import { Agent } from '../agent';
import { SimulatorSource } from '../sources/simulator/simulator-source';
import { MemoryLog, waitFor } from './test-agent';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('a real agent given two real servers', () => {
  it('moves to the second when the first stops, and the database ends up with every frame once', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const serverOn = async (port: number): Promise<RunningServer> => {
      const env = parseEnv({
        NODE_ENV: 'test',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        SWITCHYARD_ADMIN_PASSWORD: 'correct-horse-battery',
        SWITCHYARD_DEMO: 'on',
        SWITCHYARD_LOG_LEVEL: 'warn',
      });
      const server = await startServer({ env, pages: false, simulator: false });
      cleanups.push(() => server.close());
      return server;
    };
    const first = await serverOn(0);
    const secondPort = await freePort();
    const secondUrl = `http://127.0.0.1:${secondPort}`;

    const node = DEMO_NODES[0]!;
    const { id: nodeId } = await database.db.node.findFirstOrThrow({ where: { hostname: node.hostname } });
    const { token } = await createReplacementToken(database.db, {
      nodeId,
      actor: { kind: 'system', id: null, name: 'test' },
    });
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-failover-real-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const log = new MemoryLog();
    const agent = new Agent({
      serverUrl: [first.url, secondUrl],
      hostname: node.hostname,
      dataDir,
      enrollmentToken: token,
      intervalMs: 100,
      source: new SimulatorSource({ node }),
      log,
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    await waitFor(() => agent.stats().acked >= 10, 'streaming to the first server', 20_000);

    // The first server stops (agents are told); frames pile up while nothing answers, then a
    // second server comes up at the other address the agent was given.
    await first.close();
    await waitFor(() => agent.stats().buffered >= 5, 'frames kept while no server answers');
    const second = await serverOn(secondPort);
    const builtBefore = agent.stats().seq;
    await waitFor(
      () => agent.stats().connected && agent.stats().acked >= builtBefore + 10,
      'streaming to the second server',
      20_000,
    );
    expect(log.lines.some((line) => line.includes(`connected at ${secondUrl} as node ${nodeId}`))).toBe(true);

    await agent.stop();
    const { seq, buffered, dropped } = agent.stats();
    expect(buffered).toBe(0);
    expect(dropped).toBe(0);
    // Every frame is stored exactly once, whichever server took it: one sample per frame.
    const { runtime } = second;
    expect(runtime.sequences.lastCommitted(nodeId)).toBe(seq);
    await runtime.ingest.settled();
    await runtime.rollups.flush({ all: true });
    const gpu = await database.db.gpu.findUniqueOrThrow({ where: { uuid: node.gpuUuids[0]! } });
    const stored = await database.db.gpuRollup.aggregate({
      where: { gpuId: gpu.id, resolutionS: 10 },
      _sum: { samples: true },
    });
    expect(stored._sum.samples).toBe(seq);
  });
});
