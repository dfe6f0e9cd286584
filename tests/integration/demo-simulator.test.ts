import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import { parseEnv } from '../../server/env';
import { type RunningServer, startServer } from '../../server/main';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * The demo fleet's simulated agents under the node-identity rules: the seeded nodes exist
 * before any agent enrolls, so an ordinary enrollment token cannot enroll them. The server
 * issues replacement tokens for the nodes whose agents have no live credential in the data
 * directory, and only for those: a restart reuses the stored credentials.
 */
let database: TestDatabase;
let dataDir: string;
let server: RunningServer | null = null;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'sy-demo-sim-'));
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function startWithSimulator(): Promise<RunningServer> {
  const env = parseEnv({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_ADMIN_PASSWORD: 'correct-horse-battery',
    SWITCHYARD_DEMO: 'on',
    SWITCHYARD_LOG_LEVEL: 'warn',
  });
  server = await startServer({ env, pages: false, simulator: true });
  return server;
}

async function everyAgentConnected(running: RunningServer): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (running.runtime.io.of('/agent').sockets.size < DEMO_NODES.length) {
    if (Date.now() > deadline) throw new Error('the simulated agents did not all connect');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const audited = (action: string) => database.db.auditEvent.count({ where: { action } });

describe('the demo fleet simulator', () => {
  it('enrolls the seeded nodes with replacement tokens, once, and reuses the credentials', {
    timeout: 240_000,
  }, async () => {
    await everyAgentConnected(await startWithSimulator());
    expect(await audited('node.replacementToken.create')).toBe(DEMO_NODES.length);
    expect(await audited('node.enroll.replace')).toBe(DEMO_NODES.length);
    expect(await audited('node.enroll.refused')).toBe(0);
    expect(await database.db.node.count()).toBe(DEMO_NODES.length);
    await server!.close();
    server = null;

    // A restart: every agent still holds a live credential, so no token is issued.
    await everyAgentConnected(await startWithSimulator());
    expect(await audited('node.replacementToken.create')).toBe(DEMO_NODES.length);
    await server!.close();
    server = null;

    // One agent's data directory is lost: that node alone gets a replacement token.
    const lost = DEMO_NODES[3]!;
    await rm(path.join(dataDir, 'agents', lost.hostname), { recursive: true, force: true });
    await everyAgentConnected(await startWithSimulator());
    expect(await audited('node.replacementToken.create')).toBe(DEMO_NODES.length + 1);
    expect(await audited('node.enroll.refused')).toBe(0);
    expect(await database.db.node.count()).toBe(DEMO_NODES.length);
  });
});
