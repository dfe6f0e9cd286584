import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { DEMO_CLUSTERS } from '../../../lib/demo-fleet';
import type { Db } from '../../db/client';
import { logger } from '../../log';
import { createEnrollmentToken } from '../agents/enrollment';

const log = logger('demo');
const ROOT = path.resolve(import.meta.dirname, '../../..');

/**
 * Runs the demo fleet's simulated agents in their own process (workers/fleet-sim). They
 * enroll with short-lived enrollment tokens made here and then speak the ordinary agent
 * protocol to this server over the network, like any real agent.
 */
export async function startFleetSimulator(
  db: Db,
  options: { serverUrl: string; dataDir: string },
): Promise<() => Promise<void>> {
  const tokens: Record<string, string> = {};
  for (const cluster of DEMO_CLUSTERS) {
    const row = await db.cluster.findUnique({ where: { name: cluster.name } });
    if (!row) continue;
    const { token } = await createEnrollmentToken(db, {
      clusterId: row.id,
      description: 'demo fleet simulator',
      maxUses: 1000,
      expiresAt: new Date(Date.now() + 3600_000),
    });
    tokens[cluster.name] = token;
  }

  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'workers/fleet-sim/main.ts'),
      '--server',
      options.serverUrl,
      '--data-dir',
      path.join(options.dataDir, 'agents'),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, SWITCHYARD_ENROLLMENT_TOKENS: JSON.stringify(tokens) },
      // The IPC channel lets the simulator notice if this process dies without a goodbye.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  child.on('exit', (code, signal) => {
    if (!stopping) log.warn(`fleet simulator exited (code ${code}, signal ${signal})`);
  });
  log.info(`fleet simulator started (pid ${child.pid})`);

  let stopping = false;
  return async () => {
    stopping = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
}
