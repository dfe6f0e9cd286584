import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import { createReplacementToken } from '../../server/services/agents/enrollment';
import { Agent } from '../../workers/agent/agent';
import { silentLog } from '../../workers/agent/log';
import { SimulatorSource } from '../../workers/agent/sources/simulator/simulator-source';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * A server killed with SIGKILL in the middle of a stream loses nothing it acknowledged:
 * after a restart the agent replays what was not acknowledged, the server folds what its
 * journal held into rollups, and the stored series has every frame exactly once.
 */
const PORT = 3292;
let database: TestDatabase;
let dataDir: string;
let server: ChildProcess | null = null;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sy-crash-'));
});
afterAll(async () => {
  server?.kill('SIGKILL');
  await database?.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

async function startServerProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/headless.ts'], {
    env: {
      ...process.env,
      PORT: String(PORT),
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      SWITCHYARD_DEMO: 'on',
      SWITCHYARD_ADMIN_PASSWORD: 'crash-test-password',
      SWITCHYARD_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  return child;
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a server killed mid-stream', () => {
  it('leaves no gap and no double count in the stored series', { timeout: 120_000 }, async () => {
    server = await startServerProcess();
    const node = DEMO_NODES[0]!;
    // A demo node exists already: its agent enrolls with a replacement token for it.
    const seeded = await database.db.node.findFirstOrThrow({ where: { hostname: node.hostname } });
    const { token } = await createReplacementToken(database.db, {
      nodeId: seeded.id,
      actor: { kind: 'system', id: null, name: 'test' },
    });
    const agent = new Agent({
      serverUrl: `http://127.0.0.1:${PORT}`,
      hostname: node.hostname,
      dataDir: path.join(dataDir, node.hostname),
      enrollmentToken: token,
      intervalMs: 100,
      source: new SimulatorSource({ node }),
      log: silentLog,
    });
    await agent.start();
    await until(() => agent.stats().acked >= 40);

    server.kill('SIGKILL');
    await new Promise((resolve) => server!.once('exit', resolve));
    const ackedBeforeCrash = agent.stats().acked;
    // Acknowledged frames are in the journal, not yet in rollups (buckets close every 10 s).
    expect(await database.db.telemetryJournal.count()).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the agent keeps sampling
    expect(agent.stats().buffered).toBeGreaterThan(5);

    server = await startServerProcess();
    await until(() => agent.stats().acked >= ackedBeforeCrash + 40 && agent.stats().buffered === 0);
    await agent.stop();
    const { seq, dropped } = agent.stats();
    expect(dropped).toBe(0);

    // A clean stop folds the rest of the journal into rollups.
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
    server = null;
    expect(await database.db.telemetryJournal.count()).toBe(0);

    const gpu = await database.db.gpu.findUniqueOrThrow({ where: { uuid: node.gpuUuids[0]! } });
    const buckets = await database.db.gpuRollup.findMany({
      where: { gpuId: gpu.id, resolutionS: 10 },
      orderBy: { bucketStart: 'asc' },
    });
    // Every frame 1..seq is counted exactly once…
    expect(buckets.reduce((sum, b) => sum + b.samples, 0)).toBe(seq);
    // …and the series has no hole: one row for every 10 s from the first to the last.
    const starts = buckets.map((b) => b.bucketStart.getTime());
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(10_000);
    // The stored sequence is where the agent stopped.
    const stored = await database.db.node.findFirstOrThrow({ where: { hostname: node.hostname } });
    expect(Number(stored.lastSeq)).toBe(seq);
  });
});
