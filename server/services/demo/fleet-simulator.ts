import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { DEMO_NODES } from '../../../lib/demo-fleet';
import { readCredential } from '../../../workers/agent/data-dir';
import { hashSecret } from '../../auth/secrets';
import type { Db } from '../../db/client';
import { logger } from '../../log';
import { createReplacementToken } from '../agents/enrollment';

const log = logger('demo');
const ROOT = path.resolve(import.meta.dirname, '../../..');

/**
 * Runs the demo fleet's simulated agents in their own process (workers/fleet-sim). They
 * enroll with short-lived tokens made here and then speak the ordinary agent protocol to
 * this server over the network, like any real agent.
 *
 * The demo nodes exist from the seed on, and an ordinary enrollment token cannot enroll an
 * existing hostname: a node whose agent has no live credential in the data directory (first
 * start, or the directory was lost) gets a replacement token for that node, as an admin
 * would issue for a reinstalled machine. A demo node an admin removed stays removed: its
 * agent gets no token.
 */
export async function startFleetSimulator(
  db: Db,
  options: { serverUrl: string; dataDir: string },
): Promise<() => Promise<void>> {
  const agentsDir = path.join(options.dataDir, 'agents');
  const tokens = await enrollmentTokens(db, agentsDir);

  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'workers/fleet-sim/main.ts'),
      '--server',
      options.serverUrl,
      '--data-dir',
      agentsDir,
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

const SIMULATOR_ACTOR = { kind: 'system' as const, id: null, name: 'demo fleet simulator' };
const TOKEN_LIFETIME_MINUTES = 60;

/**
 * Hostname → replacement token, for every demo node that exists but has no live credential
 * in its agent's data directory. (The simulator also accepts cluster-name keys, for nodes
 * that do not exist yet; the seeded demo fleet needs none.) One query and parallel reads:
 * this runs on every start, before the server can take signals.
 */
async function enrollmentTokens(db: Db, agentsDir: string): Promise<Record<string, string>> {
  const [nodes, stored] = await Promise.all([
    db.node.findMany({
      where: { hostname: { in: DEMO_NODES.map((node) => node.hostname) } },
      select: {
        id: true,
        hostname: true,
        cluster: { select: { name: true } },
        credentials: { where: { revokedAt: null }, select: { tokenHash: true } },
      },
    }),
    Promise.all(
      DEMO_NODES.map((node) => readCredential(path.join(agentsDir, node.hostname)).catch(() => null)),
    ),
  ]);
  const tokens: Record<string, string> = {};
  for (const [i, demoNode] of DEMO_NODES.entries()) {
    const node = nodes.find((n) => n.hostname === demoNode.hostname && n.cluster.name === demoNode.cluster);
    if (!node) {
      log.info(`demo node ${demoNode.hostname} was removed from the fleet; its simulated agent stays off`);
      continue;
    }
    const credential = stored[i]?.nodeCredential;
    if (credential && node.credentials.some((live) => live.tokenHash === hashSecret(credential))) continue;
    const { token } = await createReplacementToken(db, {
      nodeId: node.id,
      expiresInMinutes: TOKEN_LIFETIME_MINUTES,
      actor: SIMULATOR_ACTOR,
    });
    tokens[demoNode.hostname] = token;
  }
  const count = Object.keys(tokens).length;
  if (count > 0) log.info(`issued replacement tokens for ${count} demo node(s) without a live credential`);
  return tokens;
}
