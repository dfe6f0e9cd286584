import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm start` as a user runs it: the whole product in child processes (server, embedded
 * Postgres, simulated fleet). SIGTERM must stop all of them, and the data must survive.
 */
const PORT = 3290;
const PG_PORT = 54359;
const ADMIN_PASSWORD = 'lifecycle-password';
let dataDir: string;
let running: ChildProcess | null = null;

afterAll(async () => {
  running?.kill('SIGKILL');
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

function start(): ChildProcess {
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    env: {
      ...process.env,
      PORT: String(PORT),
      HOST: '127.0.0.1',
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_PG_PORT: String(PG_PORT),
      SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      SWITCHYARD_DEMO: 'on',
      SWITCHYARD_LOG_LEVEL: 'warn',
      DATABASE_URL: '',
    },
    stdio: 'ignore',
  });
  running = child;
  return child;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Processes whose command line mentions the data directory (Postgres, the simulator). */
async function processesUsing(marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

async function signIn(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${PORT}/api/trpc/auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

describe('npm start', () => {
  it('stops every process it started on SIGTERM, and keeps its data across a restart', {
    timeout: 240_000,
  }, async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sy-lifecycle-'));
    // As root, Postgres runs as the "postgres" user, which must be able to enter the folder.
    await fs.chmod(dataDir, 0o755);
    const first = start();
    await waitFor(async () => {
      const health = await (await fetch(`http://127.0.0.1:${PORT}/api/health`)).json();
      return health.agentsConnected === 12 ? health : undefined;
    }, 200_000);
    expect(await processesUsing(dataDir)).not.toHaveLength(0);

    // A change made through the API, to find again after the restart.
    const cookie = await signIn();
    const created = await fetch(`http://127.0.0.1:${PORT}/api/trpc/admin.createApiToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: `http://127.0.0.1:${PORT}` },
      body: JSON.stringify({ name: 'survives-restart', scopes: ['read'] }),
    });
    const { token } = (await created.json()).result.data as { token: string };

    const exited = new Promise<number | null>((resolve) => first.once('exit', (code) => resolve(code)));
    first.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await processesUsing(dataDir)).toEqual([]);

    const second = start();
    await waitFor(
      async () => ((await fetch(`http://127.0.0.1:${PORT}/api/health`)).ok ? true : undefined),
      120_000,
    );
    const nodes = await fetch(`http://127.0.0.1:${PORT}/api/trpc/fleet.nodes`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(nodes.status).toBe(200);
    expect((await nodes.json()).result.data).toHaveLength(12);

    const exitedAgain = new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
    second.kill('SIGTERM');
    expect(await exitedAgain).toBe(0);
    running = null;
    expect(await processesUsing(dataDir)).toEqual([]);
  });
});
